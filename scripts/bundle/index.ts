// `npm run bundle -- --arch arm64|x64 [--out DIR] [--cache DIR]`: a self-contained tarball of the
// daemon for a 64-bit board (DESIGN §10, §12.14): openstarryd-<version>-linux-<arch>.tar.gz.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Arch } from './node-runtime';
import { stage } from './stage';
import { sourceDateEpoch, tarball } from './tar';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { arch: { type: 'string', default: 'arm64' }, out: { type: 'string', default: path.join(root, 'out') }, cache: { type: 'string', default: path.join(root, '.bundle-cache') }, node: { type: 'string' } } });
if (values.arch !== 'arm64' && values.arch !== 'x64') {
  process.stderr.write(`bundle: --arch is arm64 or x64 (64-bit boards only, DESIGN §12.14), not ${values.arch}\n`);
  process.exit(64);
}
const arch: Arch = values.arch;
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const work = path.join(values.out, `stage-${arch}`);
const dir = stage({ root, cache: path.resolve(values.cache), arch, out: work, ...(values.node ? { nodeVersion: values.node } : {}) });
const file = path.join(values.out, `openstarryd-${version}-linux-${arch}.tar.gz`);
tarball(dir, file, sourceDateEpoch(root));
const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
fs.writeFileSync(`${file}.sha256`, `${sha}  ${path.basename(file)}\n`);
process.stdout.write(`${file}\n  ${(fs.statSync(file).size / 1e6).toFixed(1)} MB, sha256 ${sha}\n`);
