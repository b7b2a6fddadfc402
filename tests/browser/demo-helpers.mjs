// demo-helpers.mjs: what tests/browser/demo.test.mjs needs besides the page itself:
//   makeClip()        a fake-webcam .y4m clip from real flower photos, one segment per class
//   launchBrowser()   Debian's Chromium through playwright-core, with the clip as its camera
//
// The clip. Each class has a segment (photos of that class, each held for a second with a slow zoom,
// cycled); the segments follow each other and Chromium loops the file. The frame is 4:3 and the
// photo fills its centre square, which is exactly what the page shows and what the model sees (the
// page and webtune both crop the centre square). The side margins, cut off by that crop, carry a
// grey level that says which segment is on screen, so the test knows which class the camera shows
// without relying on timing (the fake camera drifts on a loaded machine).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// the shared folder beside the repository (WT_SHARED_DIR overrides, as for scripts/build-models.mjs)
const SHARED = process.env.WT_SHARED_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../shared');
export const FLOWERS = path.join(SHARED, 'datasets/flowers');

const W = 640;
const H = 480;
const SQUARE = 480;
const MARGIN = (W - SQUARE) / 2; // 80: cut off by the centre-square crop
const MARK = 72;                 // marker width, leaving a gap to the photo
/** Grey levels of the segment marker, by segment index. */
export const MARK_LEVELS = [40, 128, 215];

/** Pixel size of a JPEG (from its SOF marker). */
function jpegSize(file) {
  const b = fs.readFileSync(file);
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) { i++; continue; }
    const m = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { h: b.readUInt16BE(i + 5), w: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return { w: 0, h: 0 };
}

/** "class/file" -> credit line, from the dataset's ATTRIBUTION.txt. */
export function readCredits() {
  const map = new Map();
  for (const line of fs.readFileSync(path.join(FLOWERS, 'ATTRIBUTION.txt'), 'utf8').split('\n')) {
    const m = /^(\S+\/\S+\.jpg) CC-BY by (.+?) - (https?:\S+)/.exec(line.trim());
    if (m) map.set(m[1], { author: m[2], url: m[3] });
  }
  return map;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'buffer', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr?.toString().slice(-800)}`);
  return r.stdout;
}

/**
 * Builds the clip. Photos: `pick[class]` (file names in train/<class>/), else the `photosPerClass`
 * largest landscape ones (ties by name).
 * @returns {{ file, dir, fps, segmentSeconds, classes, photos: Array<{ cls, file, author, url }> }}
 */
export function makeClip({ classes = ['daisy', 'roses', 'sunflowers'], photosPerClass = 4, pick = {}, secondsPerPhoto = 1, cycles = 3, fps = 10, dir } = {}) {
  if (classes.length > MARK_LEVELS.length) throw new Error(`at most ${MARK_LEVELS.length} classes`);
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'webtune-demo-'));
  const credits = readCredits();
  const framesPerPhoto = Math.round(secondsPerPhoto * fps);
  const frameBytes = (W * H * 3) / 2;
  const photos = [];
  const segments = classes.map((cls, k) => {
    const folder = path.join(FLOWERS, 'train', cls);
    const chosen = pick[cls]?.map((f) => ({ f })) ?? fs.readdirSync(folder).filter((f) => f.endsWith('.jpg')).sort()
      .map((f) => ({ f, ...jpegSize(path.join(folder, f)) }))
      .filter((x) => x.w >= x.h && x.w / x.h < 1.6) // landscape-ish: little is lost to the square crop
      .sort((a, b) => b.w * b.h - a.w * a.h || a.f.localeCompare(b.f))
      .slice(0, photosPerClass);
    return chosen.map(({ f }) => {
      const c = credits.get(`${cls}/${f}`) ?? { author: 'unknown', url: '' };
      photos.push({ cls, file: `${cls}/${f}`, ...c });
      const level = MARK_LEVELS[k].toString(16).padStart(2, '0').repeat(3);
      const vf = [
        `scale=${2 * SQUARE}:${2 * SQUARE}:force_original_aspect_ratio=increase`,
        `crop=${2 * SQUARE}:${2 * SQUARE}`,
        `zoompan=z='1+0.0045*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=${framesPerPhoto}:s=${SQUARE}x${SQUARE}:fps=${fps}`,
        `pad=${W}:${H}:${MARGIN}:0:black`,
        `drawbox=x=0:y=0:w=${MARK}:h=${H}:color=0x${level}:t=fill`,
        `drawbox=x=${W - MARK}:y=0:w=${MARK}:h=${H}:color=0x${level}:t=fill`,
        'format=yuv420p',
      ].join(',');
      const raw = run('ffmpeg', ['-v', 'error', '-loop', '1', '-i', path.join(folder, f), '-vf', vf,
        '-frames:v', String(framesPerPhoto), '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1']);
      if (raw.length !== framesPerPhoto * frameBytes) throw new Error(`ffmpeg gave ${raw.length} bytes for ${f}, expected ${framesPerPhoto * frameBytes}`);
      return raw;
    });
  });
  // y4m: a header, then "FRAME\n" + planar Y, U, V per frame
  const file = path.join(dir, 'camera.y4m');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `YUV4MPEG2 W${W} H${H} F${fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n`);
  const frameHeader = Buffer.from('FRAME\n');
  for (const clips of segments) {
    for (let c = 0; c < cycles; c++) {
      for (const raw of clips) {
        for (let i = 0; i < framesPerPhoto; i++) {
          fs.writeSync(fd, frameHeader);
          fs.writeSync(fd, raw, i * frameBytes, frameBytes);
        }
      }
    }
  }
  fs.closeSync(fd);
  return { file, dir, fps, segmentSeconds: photosPerClass * secondsPerPhoto * cycles, classes, photos };
}

/** Which segment a marker grey level means (null: no video yet). */
export function segmentOf(level) {
  if (level === null || level === undefined) return null;
  let best = 0;
  for (let i = 1; i < MARK_LEVELS.length; i++) if (Math.abs(level - MARK_LEVELS[i]) < Math.abs(level - MARK_LEVELS[best])) best = i;
  return Math.abs(level - MARK_LEVELS[best]) < 30 ? best : null;
}

/**
 * In the page: the mean grey of the clip's left margin in the <video> (the marker), and the live
 * prediction shown at the same moment.
 */
export const probeInPage = () => {
  const v = document.querySelector('video');
  const label = document.querySelector('[data-testid="prediction-label"]');
  const live = label && !label.closest('[hidden]') ? label.textContent : null;
  if (!v || !v.videoWidth) return { level: null, label: live };
  const c = (window.__markerProbe ??= document.createElement('canvas'));
  c.width = 8;
  c.height = 8;
  const g = c.getContext('2d', { willReadFrequently: true });
  const k = v.videoWidth / 640;
  g.drawImage(v, 12 * k, v.videoHeight * 0.2, 48 * k, v.videoHeight * 0.6, 0, 0, 8, 8);
  const d = g.getImageData(0, 0, 8, 8).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
  return { level: s / (3 * 64), label: live };
};

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, headless, with `clip` as the only camera. */
export async function launchBrowser({ clip } = {}) {
  const { chromium } = await import('playwright-core');
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    // keep timers and rendering at full speed in a headless, "hidden" page
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
  ];
  if (clip) args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}
