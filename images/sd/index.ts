// `npm run image -- --base <raspios.img[.xz]> --bundle <tgz> --out <img>`: customise a Raspberry Pi
// OS image (customise.ts). `npm run image:test [-- --bundle <tgz>] [--out <img>]`: build the small
// reproducible test image from scratch (genimage.ts); without --bundle it builds the arm64 bundle.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sourceDateEpoch } from '../../scripts/bundle/tar';
import { customiseImage } from './customise';
import { buildTestImage } from './genimage';
import { partitionTable, sha256 } from './inspect';
import { unpackBundle } from './overlay';

const root = path.resolve(import.meta.dirname, '../..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { base: { type: 'string' }, bundle: { type: 'string' }, out: { type: 'string' } } });
const mode = positionals[0] === 'test' ? 'test' : 'customise';
const progress = (line: string): void => void process.stderr.write(`image: ${line}\n`);
const fail = (m: string): never => {
  process.stderr.write(`image: ${m}\n`);
  process.exit(64);
};

function unpack(tgz: string): string {
  progress(`unpacking ${path.basename(tgz)}`);
  try {
    return unpackBundle(tgz);
  } catch (err) {
    return fail((err as Error).message);
  }
}

const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const epoch = sourceDateEpoch(root);
let tgz = values.bundle;
if (mode === 'test' && !tgz) {
  progress('building the arm64 bundle');
  execFileSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'scripts/bundle/index.ts'), '--arch', 'arm64'], { stdio: ['ignore', 'ignore', 'inherit'] });
  tgz = path.join(root, 'out', `openstarryd-${version}-linux-arm64.tar.gz`);
}
if (!tgz) fail('--bundle <openstarryd-…-linux-arm64.tar.gz> is required');
const bundle = unpack(tgz ?? '');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-image-'));
try {
  if (mode === 'test') {
    const out = path.resolve(values.out ?? path.join(root, 'out', 'openstarryd-test.img'));
    buildTestImage({ bundle, out, epoch, work, progress });
    process.stdout.write(`${out}\n  sha256 ${sha256(out)}, disk signature ${partitionTable(out).id}\n`);
  } else {
    if (!values.base || !values.out) fail('usage: npm run image -- --base <raspios.img[.xz]> --bundle <tgz> --out <img>');
    customiseImage({ base: path.resolve(values.base ?? ''), bundle, out: path.resolve(values.out ?? ''), work, epoch, progress });
    process.stdout.write(`${path.resolve(values.out ?? '')}\n`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
}
