// charts.js: the training curves (SVG, drawn here, no library) and the confusion matrix table.

const SVG = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 150;
const PAD = { l: 34, r: 10, t: 10, b: 22 };

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent?.appendChild(e);
  return e;
}

/**
 * A line chart of training progress: a faint line per step, a bold line per epoch.
 * `update({ steps: [[x, y]], epochs: [[x, y]], xMax, yMax })`, x in steps.
 */
export class Chart {
  constructor(svg, { format = (v) => v.toFixed(2), yMax = null, color = 'var(--accent)' } = {}) {
    this.svg = svg;
    this.format = format;
    this.fixedMax = yMax;
    this.color = color;
    this.clear();
  }

  clear() {
    this.svg.replaceChildren();
    const s = this.svg;
    this.grid = el('g', { class: 'grid' }, s);
    this.stepLine = el('polyline', { class: 'line-step', fill: 'none', stroke: this.color }, s);
    this.area = el('path', { class: 'line-area', fill: this.color }, s);
    this.epochLine = el('polyline', { class: 'line-epoch', fill: 'none', stroke: this.color }, s);
    this.dot = el('circle', { class: 'line-dot', r: 3.5, fill: this.color, visibility: 'hidden' }, s);
    this.drawAxes(1, 1);
  }

  drawAxes(xMax, yMax) {
    this.grid.replaceChildren();
    const y0 = H - PAD.b;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.t + ((H - PAD.t - PAD.b) * i) / 4;
      el('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: i === 4 ? 'axis' : 'rule' }, this.grid);
      const t = el('text', { x: PAD.l - 6, y: y + 3.5, 'text-anchor': 'end', class: 'tick' }, this.grid);
      t.textContent = this.format(yMax * (1 - i / 4));
    }
    const tl = el('text', { x: PAD.l, y: y0 + 15, class: 'tick' }, this.grid);
    tl.textContent = '0';
    const tr = el('text', { x: W - PAD.r, y: y0 + 15, 'text-anchor': 'end', class: 'tick' }, this.grid);
    tr.textContent = `${xMax} steps`;
  }

  update({ steps, epochs, xMax }) {
    const all = steps.map((p) => p[1]).concat(epochs.map((p) => p[1])).filter(Number.isFinite);
    let yMax = this.fixedMax ?? Math.max(1e-6, ...all);
    if (this.fixedMax === null) yMax = niceCeil(yMax);
    if (yMax !== this.yMax || xMax !== this.xMax) {
      this.yMax = yMax;
      this.xMax = xMax;
      this.drawAxes(xMax, yMax);
    }
    const sx = (x) => PAD.l + ((W - PAD.l - PAD.r) * x) / Math.max(1, xMax);
    const sy = (y) => PAD.t + (H - PAD.t - PAD.b) * (1 - Math.min(yMax, Math.max(0, y)) / yMax);
    const pts = (list) => list.filter((p) => Number.isFinite(p[1])).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    this.stepLine.setAttribute('points', pts(steps));
    const ep = epochs.filter((p) => Number.isFinite(p[1]));
    this.epochLine.setAttribute('points', pts(ep));
    if (ep.length) {
      const d = `M${sx(ep[0][0])},${sy(0)} ` + ep.map(([x, y]) => `L${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ') + ` L${sx(ep.at(-1)[0])},${sy(0)} Z`;
      this.area.setAttribute('d', d);
      const [x, y] = ep.at(-1);
      this.dot.setAttribute('cx', sx(x));
      this.dot.setAttribute('cy', sy(y));
      this.dot.setAttribute('visibility', 'visible');
    } else {
      this.area.setAttribute('d', '');
      this.dot.setAttribute('visibility', 'hidden');
    }
  }
}

function niceCeil(v) {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 5, 8, 10]) if (m * e >= v) return m * e; // a quarter of each is a round tick
  return 10 * e;
}

/** Fills `table` with confusion[true][predicted]; cells shaded by the share of their row. */
export function renderConfusion(table, labels, confusion, colors) {
  table.replaceChildren();
  const caption = document.createElement('caption');
  caption.className = 'visually-hidden';
  caption.textContent = 'Confusion matrix: rows are the class an example belongs to, columns what the model predicted';
  table.appendChild(caption);
  const thead = table.createTHead();
  const hr = thead.insertRow();
  const corner = document.createElement('th');
  corner.className = 'corner';
  corner.innerHTML = '<span>actual</span> ↓ <span>predicted</span> →';
  hr.appendChild(corner);
  labels.forEach((l, j) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = l;
    th.style.setProperty('--c', colors[j]);
    hr.appendChild(th);
  });
  const tbody = table.createTBody();
  labels.forEach((l, i) => {
    const tr = tbody.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = l;
    th.style.setProperty('--c', colors[i]);
    tr.appendChild(th);
    const row = confusion[i] ?? [];
    const total = row.reduce((s, v) => s + v, 0);
    labels.forEach((_, j) => {
      const td = tr.insertCell();
      const v = row[j] ?? 0;
      const share = total ? v / total : 0;
      td.textContent = v;
      td.className = [i === j ? 'diag' : (v ? 'miss' : ''), share > 0.5 ? 'strong' : ''].join(' ').trim();
      td.style.setProperty('--share', share.toFixed(3));
      td.title = `${v} of ${total} "${l}" examples predicted as "${labels[j]}"`;
    });
  });
}
