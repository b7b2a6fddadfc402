// chromium.mjs: helpers for the browser tests. Debian's headless Chromium driven by playwright-core
// (browser downloads do not work on these machines), and a tiny static file server that can make
// pages cross-origin isolated (COOP/COEP), which the threaded wasm module needs.
//
//   const browser = await launchChromium({ fakeVideo: '/tmp/clip.y4m' });   // fakeVideo optional
//   const server = await serveStatic(repoRoot, { isolated: true, mounts: { '/shared/': sharedDir } });
//   await page.goto(`${server.url}/tests/browser/fixtures/api.html`);
//   await server.close(); await browser.close();
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.WT_CHROMIUM ?? '/usr/bin/chromium';

// Flags that work headless as root on a machine without a GPU or a sandbox-capable kernel setup.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  // background tabs and timers must not be throttled while a test measures the page's heartbeat
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
];

/**
 * Launches headless Chromium. With `fakeVideo` (a .y4m or .mjpeg file), getUserMedia({ video })
 * plays that file without a permission prompt.
 * @param {{ fakeVideo?: string, args?: string[], headless?: boolean }} [options]
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium({ fakeVideo, args = [], headless = true } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set WT_CHROMIUM)`);
  const extra = fakeVideo
    ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${fakeVideo}`]
    : [];
  return chromium.launch({ executablePath: CHROMIUM, headless, args: [...CHROMIUM_ARGS, ...extra, ...args] });
}

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webtune': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.y4m': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

function resolveIn(dir, rel) {
  const file = path.resolve(dir, `.${path.posix.normalize(`/${rel}`)}`);
  return file === dir || file.startsWith(dir + path.sep) ? file : null;
}

/**
 * Serves `rootDir` (and optional extra directories under URL prefixes) on 127.0.0.1, a free port.
 * With `isolated`, every response carries COOP: same-origin, COEP: require-corp and CORP:
 * same-origin, so pages are cross-origin isolated. GET and HEAD only; no directory listings.
 * @param {string} rootDir
 * @param {{ isolated?: boolean, mounts?: Record<string, string> }} [options]  mounts: { '/shared/': '/work/shared' }
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void>, requests: string[] }>}
 */
export function serveStatic(rootDir, { isolated = false, mounts = {} } = {}) {
  const root = path.resolve(rootDir);
  const mountList = Object.entries(mounts)
    .map(([prefix, dir]) => [`/${prefix.replace(/^\/+|\/+$/g, '')}/`, path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const headers = { 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const fail = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return fail(400, 'bad url');
    }
    requests.push(pathname);
    let file = null;
    const mount = mountList.find(([prefix]) => pathname.startsWith(prefix));
    if (mount) file = resolveIn(mount[1], pathname.slice(mount[0].length));
    else file = resolveIn(root, pathname);
    if (!file) return fail(403, 'forbidden');
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = fs.existsSync(file) ? fs.statSync(file) : null;
      }
      if (err || !st || !st.isFile()) return fail(404, `not found: ${pathname}`);
      const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': st.size });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        close: () => new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
