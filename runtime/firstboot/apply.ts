/**
 * `openstarryd firstboot`: run once per boot as root by openstarry-firstboot.service, before the
 * daemon (DESIGN §10). It takes `<boot>/openstarry/device.yaml` off the FAT partition: a good file
 * becomes /etc/openstarry/device.yaml (0600, owned by the daemon's user), credentials/<name>
 * (0600 root, for LoadCredential) and public key files, and is then deleted from the card. A bad one
 * changes nothing on the device: it is renamed device.yaml.rejected with the reason beside it (for
 * whoever pulls the card), and the reason goes to <home>/firstboot.json, which the daemon reports
 * as a degraded subsystem on /healthz and the status page, while it runs local-only. It touches
 * nothing else on the boot partition (Raspberry Pi OS's own first-boot files stay as they are).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { toOszError } from '../errors';
import { MAX_DEVICE_FILE_BYTES, planDeviceFile } from './device-file';

export interface FirstbootOptions {
  /** the FAT boot partition, mounted (Raspberry Pi OS: /boot/firmware) */
  boot: string;
  /** the device's config folder (/etc/openstarry) */
  etc: string;
  /** the daemon's home (/var/lib/openstarry), for firstboot.json */
  home: string;
  /** uid/gid that owns device.yaml (the daemon's user); the current user when absent */
  owner?: { uid: number; gid: number } | undefined;
}

export type FirstbootResult = { outcome: 'none' } | { outcome: 'applied'; wrote: string[] } | { outcome: 'rejected'; error: string };

export const FIRSTBOOT_STATUS = 'firstboot.json';

function writeAtomic(file: string, content: string, mode: number, owner?: { uid: number; gid: number }): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, content, { mode, flag: 'wx' });
  if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
  const fd = fs.openSync(tmp, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

export function runFirstboot(o: FirstbootOptions): FirstbootResult {
  const dir = path.join(o.boot, 'openstarry');
  const file = path.join(dir, 'device.yaml');
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return { outcome: 'none' };
  }
  const reject = (error: string): FirstbootResult => {
    fs.mkdirSync(o.home, { recursive: true, mode: 0o750 });
    writeAtomic(path.join(o.home, FIRSTBOOT_STATUS), JSON.stringify({ at: Date.now(), error }) + '\n', 0o640, o.owner);
    try {
      fs.renameSync(file, path.join(dir, 'device.yaml.rejected'));
      fs.writeFileSync(path.join(dir, 'device.yaml.error.txt'), `openstarryd did not use device.yaml:\n${error}\n\nFix it, rename it back to device.yaml, and boot again.\n`);
    } catch {
      // a read-only or odd boot partition: the reason is still in firstboot.json
    }
    return { outcome: 'rejected', error };
  };
  if (!st.isFile()) return reject(`${file} is not a regular file`);
  if (st.size > MAX_DEVICE_FILE_BYTES) return reject(`device.yaml is ${st.size} bytes; at most ${MAX_DEVICE_FILE_BYTES}`);
  let plan;
  try {
    plan = planDeviceFile(fs.readFileSync(file, 'utf8'), o.etc);
  } catch (err) {
    return reject(toOszError(err).message);
  }
  const wrote: string[] = [];
  fs.mkdirSync(o.etc, { recursive: true, mode: 0o755 });
  const creds = path.join(o.etc, 'credentials');
  fs.mkdirSync(creds, { recursive: true, mode: 0o700 });
  fs.chmodSync(creds, 0o700);
  for (const s of plan.secrets) {
    writeAtomic(path.join(creds, s.name), s.content, 0o600);
    wrote.push(path.join(creds, s.name));
  }
  for (const f of plan.files) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true, mode: 0o755 });
    writeAtomic(f.path, f.content, 0o644);
    wrote.push(f.path);
  }
  const target = path.join(o.etc, 'device.yaml');
  writeAtomic(target, `# from the boot partition's openstarry/device.yaml, ${new Date().toISOString()}\n${YAML.stringify(plan.fragment)}`, 0o600, o.owner);
  wrote.push(target);
  // only now, with everything on the device, does the card's copy go
  fs.rmSync(file);
  for (const stale of ['device.yaml.rejected', 'device.yaml.error.txt']) fs.rmSync(path.join(dir, stale), { force: true });
  fs.rmSync(path.join(o.home, FIRSTBOOT_STATUS), { force: true });
  return { outcome: 'applied', wrote };
}
