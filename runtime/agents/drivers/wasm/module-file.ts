/**
 * An agent's module file, read from its install copy (never through a link, capped in size), and
 * what its memory may really grow to: min(the module's declared maximum, limits.memoryMb). The
 * device total (wasm.totalMemoryMb) holds that figure, not memoryMb: a guest whose module
 * declares 1 MB counts as 1 MB, so a small board fits as many small agents as their memory allows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../../../errors';
import type { LaunchSpec } from '../driver';
import { checkAbi, checkModule, MAX_MODULE_BYTES } from './abi';

export function readModule(file: string, rel: string): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    throw new OszError('OSZ_E_SPAWN_FAILED', `cannot open ${rel}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new OszError('OSZ_E_WASM_REFUSED', `${rel} is not a regular file`);
    if (st.size > MAX_MODULE_BYTES) throw new OszError('OSZ_E_WASM_REFUSED', `${rel}: module is ${st.size} bytes; the limit is ${MAX_MODULE_BYTES}`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The MB an instance of this module holds of wasm.totalMemoryMb; memoryMb when the module is refused (its launch then fails anyway). */
export function memoryCeilingMb(bytes: Uint8Array, memoryMb: number, rel: string): number {
  try {
    const { memory } = checkAbi(checkModule(bytes, memoryMb, rel).info, memoryMb, rel);
    return Math.max(1, Math.min(memoryMb, Math.ceil((memory.maximumPages * 65536) / 1048576)));
  } catch {
    return memoryMb;
  }
}

/** The same, reading the instance's module from its install copy; memoryMb when it cannot be read. */
export function heldMemoryMb(spec: LaunchSpec): number {
  const rel = spec.manifest.runtime.module ?? '';
  try {
    return memoryCeilingMb(readModule(path.join(spec.installDir, rel), rel), spec.manifest.limits.memoryMb, rel);
  } catch {
    return spec.manifest.limits.memoryMb;
  }
}
