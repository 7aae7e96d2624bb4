// `npm run deb -- --bundle <openstarryd-…-linux-arm64.tar.gz> [--out DIR] [--version V]`: the .deb
// that upgrades an SD-image device in place (build.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sourceDateEpoch } from '../../scripts/bundle/tar';
import { buildDeb } from './build';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { bundle: { type: 'string' }, out: { type: 'string' }, version: { type: 'string' } } });
if (!values.bundle || !fs.existsSync(values.bundle)) {
  process.stderr.write(`deb: --bundle <openstarryd-…-linux-<arch>.tar.gz> is required${values.bundle ? ` (no file ${values.bundle})` : ''}; make one with npm run bundle\n`);
  process.exit(64);
}
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-deb-bundle-'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-deb-'));
try {
  execFileSync('tar', ['xzf', values.bundle, '-C', unpacked]);
  const out = buildDeb({ bundle: path.join(unpacked, 'openstarryd'), outDir: path.resolve(values.out ?? path.join(root, 'out')), work, epoch: sourceDateEpoch(root), ...(values.version ? { version: values.version } : {}) });
  process.stdout.write(`${out}\n`);
} finally {
  fs.rmSync(unpacked, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
}
