/**
 * The device id (DESIGN §12.12), which is also the MQTT client id: `--device-id` or
 * `fleet.deviceId` (config, `device.yaml`), else balena's `BALENA_DEVICE_UUID`, else the board's
 * serial number, else a random id — and whichever was found is kept in `<home>/device-id`, so a
 * device keeps its id when a later source disappears.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { deviceIdSchema } from '../config/schema';
import type { SysRoot } from '../../hal/platform/root';

export function resolveDeviceId(home: string, configured: string | undefined, env: NodeJS.ProcessEnv, root: SysRoot): { id: string; source: string } {
  const file = path.join(home, 'device-id');
  const valid = (v: string | undefined): v is string => v !== undefined && deviceIdSchema.safeParse(v).success;
  const keep = (id: string, source: string): { id: string; source: string } => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() !== id) fs.writeFileSync(file, `${id}\n`, { mode: 0o644 });
    } catch {
      fs.writeFileSync(file, `${id}\n`, { mode: 0o644 });
    }
    return { id, source };
  };
  if (valid(configured)) return keep(configured, 'config');
  const balena = env.BALENA_DEVICE_UUID?.trim();
  if (valid(balena)) return keep(balena, 'BALENA_DEVICE_UUID');
  const saved = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
  if (valid(saved)) return { id: saved, source: file };
  const serial = root.read('/proc/device-tree/serial-number')?.replace(/^0+/, '');
  if (valid(serial) && serial.length >= 8) return keep(`pi-${serial}`, 'board serial');
  return keep(`osd-${crypto.randomBytes(6).toString('hex')}`, 'random');
}
