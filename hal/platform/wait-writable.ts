/**
 * After a sysfs export (a GPIO line, a PWM channel), udev changes the new files' group a moment
 * later: wait until `p` exists and is writable, or fail with the hint that usually fixes it.
 */
import fs from 'node:fs';
import { HalError } from '../errors';

export async function waitWritable(p: string, exists: (p: string) => boolean, timeoutMs: number, what: string, group: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exists(p)) {
      try {
        fs.accessSync(p, fs.constants.W_OK);
        return;
      } catch {
        /* not yet */
      }
    }
    if (Date.now() > until) throw new HalError('HAL_E_BUS_IO', `${what} did not appear writable after export (is the daemon in the ${group} group?)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
