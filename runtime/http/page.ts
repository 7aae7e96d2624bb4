/**
 * The status page (DESIGN §9): a few static files served by the daemon, no build step on the
 * device and nothing fetched from the network. `/` is the page; `/assets/<file>` serves only the
 * files listed here (no paths from the request reach the filesystem). The bundle carries them in
 * dist/page (scripts/build.mjs copies the page and uPlot there); run from source, they come from
 * runtime/http/page and node_modules/uplot.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpServer } from './server';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
export const PAGE_FILES = ['index.html', 'app.js', 'style.css', 'icon.svg'] as const;
export const UPLOT_FILES = ['uPlot.iife.min.js', 'uPlot.min.css'] as const;

// no inline script or style, nothing from elsewhere, never framed (clickjacking on the actions)
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** where each served file is, for a daemon run from the bundle or from source */
export function locatePage(from = path.dirname(fileURLToPath(import.meta.url))): Map<string, string> {
  const dirs = [path.join(from, 'page'), path.join(from, '..', 'page'), path.join(from, '..', 'runtime', 'http', 'page'), path.join(from, '..', '..', 'runtime', 'http', 'page')];
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'index.html')));
  const out = new Map<string, string>();
  if (!dir) return out;
  for (const f of PAGE_FILES) if (fs.existsSync(path.join(dir, f))) out.set(f, path.join(dir, f));
  let uplot = dir;
  if (!fs.existsSync(path.join(dir, UPLOT_FILES[0]))) {
    try {
      uplot = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
    } catch {
      // the page works without charts
    }
  }
  for (const f of UPLOT_FILES) if (fs.existsSync(path.join(uplot, f))) out.set(f, path.join(uplot, f));
  return out;
}

export function registerPage(server: HttpServer, files: ReadonlyMap<string, string>): void {
  const cache = new Map<string, Buffer>();
  const send = (res: import('node:http').ServerResponse, name: string): void => {
    const file = files.get(name);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(name === 'index.html' ? 'the status page files are missing from this install (dist/page)\n' : 'not found\n');
      return;
    }
    let body = cache.get(name);
    if (!body) {
      body = fs.readFileSync(file);
      cache.set(name, body);
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(name)] ?? 'application/octet-stream', 'Content-Length': body.length, 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' });
    res.end(body);
  };
  server.route('GET', '/', (_req, res) => send(res, 'index.html'));
  server.route('GET', '/assets/*', (_req, res, url) => send(res, url.pathname.slice('/assets/'.length)));
}
