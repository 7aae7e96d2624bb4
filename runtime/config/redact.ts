/**
 * Config as it may be printed or logged. Secrets are only ever `*File` paths (DESIGN §12.5), and
 * even their paths are masked in output that may leave the device (status, dashboards).
 */
import { isPlainObject } from '../util/safe-json';

const SECRET_KEY = /(password|secret|token|key)(File)?$/i;

export function redactConfig(value: unknown, maskPaths = false): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, maskPaths));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEY.test(k) && typeof v === 'string') out[k] = k.endsWith('File') && !maskPaths ? v : '***';
    else out[k] = redactConfig(v, maskPaths);
  }
  return out;
}
