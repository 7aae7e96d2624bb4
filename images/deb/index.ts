// `npm run deb -- --bundle <openstarryd-…-linux-arm64.tar.gz> [--out DIR] [--version V]`: the .deb
// that upgrades an SD-image device in place (build.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sourceDateEpoch } from '../../scripts/bundle/tar';
import { unpackBundle } from '../sd/overlay';
import { buildDeb } from './build';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { bundle: { type: 'string' }, out: { type: 'string' }, version: { type: 'string' } } });
let bundle = '';
try {
  if (!values.bundle) throw new Error('--bundle <openstarryd-…-linux-<arch>.tar.gz> is required; make one with npm run bundle');
  bundle = unpackBundle(values.bundle);
} catch (err) {
  process.stderr.write(`deb: ${(err as Error).message}\n`);
  process.exit(64);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-deb-'));
try {
  const out = buildDeb({ bundle, outDir: path.resolve(values.out ?? path.join(root, 'out')), work, epoch: sourceDateEpoch(root), ...(values.version ? { version: values.version } : {}) });
  process.stdout.write(`${out}\n`);
} finally {
  fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
}
