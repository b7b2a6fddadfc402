#!/usr/bin/env node
// server.mjs: the demo's development server. Serves the repository root (the page is /demo/, the
// package's browser entry /js/src/index.js, the built wasm and backbones /js/dist/) with the
// headers that make the page cross-origin isolated, so the threaded wasm module can run:
//   Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp.
// No framework, no dependencies.
//
//   node demo/server.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation]
//
// --port 0 picks a free port; a busy port moves on to the next ones. --no-isolation leaves the
// COOP/COEP headers out (the page then runs single-threaded and says so).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webtune': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

// Only what the page needs is served: the demo, the package sources and built files, the docs.
const ALLOWED = ['/demo/', '/js/src/', '/js/dist/', '/js/types/', '/docs/', '/LICENSE', '/favicon.ico'];

/**
 * Starts the server. Resolves with { server, url, port, close() } once it listens.
 * @param {{ port?: number, host?: string, root?: string, isolate?: boolean, log?: (line: string) => void, portTries?: number }} [options]
 */
export function startServer({ port = 8080, host = '127.0.0.1', root = ROOT, isolate = true, log = () => {}, portTries = 20 } = {}) {
  const server = http.createServer((req, res) => handle(req, res, { root, isolate, log }));
  return new Promise((resolve, reject) => {
    let tries = 0;
    const listen = (p) => server.listen(p, host);
    server.on('error', (err) => {
      if (err.code === 'EADDRINUSE' && port !== 0 && ++tries < portTries) {
        listen(port + tries);
        return;
      }
      reject(err);
    });
    server.on('listening', () => {
      const actual = server.address().port;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      resolve({
        server,
        port: actual,
        url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${actual}/demo/`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
    listen(port);
  });
}

function handle(req, res, { root, isolate, log }) {
  const headers = {
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  if (isolate) {
    headers['Cross-Origin-Opener-Policy'] = 'same-origin';
    headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
  }
  const send = (status, body, type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    log(`${status} ${req.method} ${req.url}`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');

  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    return send(400, 'bad request\n');
  }
  if (pathname === '/' || pathname === '/demo') {
    res.writeHead(302, { ...headers, Location: '/demo/' });
    res.end();
    return;
  }
  if (pathname.includes('\0') || !ALLOWED.some((p) => pathname === p || pathname.startsWith(p))) return send(404, 'not found\n');
  let file = path.resolve(root, `.${pathname}`);
  if (!file.startsWith(root + path.sep)) return send(404, 'not found\n');
  let stat;
  try {
    stat = fs.statSync(file);
    if (stat.isDirectory()) {
      if (!pathname.endsWith('/')) {
        res.writeHead(301, { ...headers, Location: `${pathname}/` });
        res.end();
        return;
      }
      file = path.join(file, 'index.html');
      stat = fs.statSync(file);
    }
  } catch {
    if (pathname.startsWith('/js/dist/')) return send(404, `not found: ${pathname} (build it: bash scripts/build.sh)\n`);
    return send(404, 'not found\n');
  }
  const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': stat.size });
  if (req.method === 'HEAD') { res.end(); return; }
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
  log(`200 ${req.method} ${req.url}`);
}

function parseArgs(argv) {
  const o = { port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1', isolate: true, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { const v = a.includes('=') ? a.split('=')[1] : argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a.startsWith('--port')) o.port = Number(value());
    else if (a.startsWith('--host')) o.host = value();
    else if (a === '--no-isolation') o.isolate = false;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node demo/server.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation] [--verbose]');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error(`bad port ${o.port}`);
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`demo/server.mjs: ${e.message}`);
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'js/dist/wasm/webtune-st.wasm'))) {
    console.warn('demo/server.mjs: js/dist is not built yet; run `bash scripts/build.sh` (or `bash scripts/main.sh`)');
  }
  const s = await startServer({ ...o, log: o.verbose ? (l) => console.log(l) : undefined });
  console.log(`webtune demo: ${s.url}`);
  console.log(o.isolate ? '  cross-origin isolated (COOP/COEP headers): threads on' : '  --no-isolation: no COOP/COEP headers, the page runs single-threaded');
  console.log('  press Ctrl+C to stop');
  const stop = () => { s.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 500).unref(); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
