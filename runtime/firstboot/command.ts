/** `openstarryd firstboot [--boot DIR] [--etc DIR] [--home DIR] [--owner USER]`: the CLI of apply.ts. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { runFirstboot } from './apply';

export const FIRSTBOOT_HELP = `Usage: openstarryd firstboot [--boot /boot/firmware] [--etc /etc/openstarry] [--home /var/lib/openstarry] [--owner openstarry]
  Takes openstarry/device.yaml off the boot partition into the device's config (docs/first-boot.md).`;

/** uid and gid of a user from /etc/passwd (no getpwnam in Node) */
export function lookupUser(name: string, passwd = '/etc/passwd'): { uid: number; gid: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

export function firstbootCommand(argv: string[]): number {
  let v;
  try {
    v = parseArgs({ args: argv, strict: true, options: { boot: { type: 'string' }, etc: { type: 'string' }, home: { type: 'string' }, owner: { type: 'string' }, help: { type: 'boolean' } } }).values;
  } catch (err) {
    process.stderr.write(`openstarryd firstboot: ${(err as Error).message}\n${FIRSTBOOT_HELP}\n`);
    return 64;
  }
  if (v.help) {
    process.stdout.write(FIRSTBOOT_HELP + '\n');
    return 0;
  }
  const ownerName = v.owner ?? 'openstarry';
  const owner = lookupUser(ownerName);
  if (v.owner && !owner) {
    process.stderr.write(`openstarryd firstboot: no user ${ownerName} in /etc/passwd\n`);
    return 67;
  }
  const r = runFirstboot({ boot: v.boot ?? '/boot/firmware', etc: v.etc ?? '/etc/openstarry', home: v.home ?? '/var/lib/openstarry', owner });
  if (r.outcome === 'none') process.stdout.write('openstarryd firstboot: no openstarry/device.yaml on the boot partition\n');
  else if (r.outcome === 'applied') process.stdout.write(`openstarryd firstboot: applied device.yaml (${r.wrote.length} files) and removed it from the boot partition\n`);
  // a bad file must not fail the boot: the daemon runs local-only and shows why
  else process.stderr.write(`openstarryd firstboot: device.yaml rejected, the daemon runs local-only: ${r.error}\n`);
  return 0;
}
