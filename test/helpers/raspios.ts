/**
 * A synthetic "Raspberry Pi OS Lite" image for the customise flow's tests: the real layout (a DOS
 * label with a disk signature, a FAT boot partition at 4 MiB with config.txt, cmdline.txt and the
 * Imager's first-boot files, an ext4 root with a Debian-like /etc and systemd folders) at a size a
 * test can afford. Built with mkfs.vfat, mtools, mke2fs -d and sfdisk; no root, no mounts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const BASE_SIGNATURE = '0xdeadbeef';
export const PI_BOOT_FILES: Record<string, string> = {
  'config.txt': '[all]\narm_64bit=1\ndtparam=i2c_arm=on\n',
  'cmdline.txt': 'console=serial0,115200 root=PARTUUID=deadbeef-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
  'userconf.txt': 'pi:$6$salt$hash\n',
  'firstrun.sh': '#!/bin/bash\nset +e\nraspi-config nonint do_wifi_country DE\n',
};

export function syntheticRaspiOs(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const boot = path.join(dir, 'boot.vfat');
  const bootMb = 64;
  execFileSync('truncate', ['-s', `${bootMb}M`, boot]);
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'bootfs', '-i', 'deadbeef', boot], { stdio: 'ignore' });
  for (const [f, c] of Object.entries(PI_BOOT_FILES)) {
    fs.writeFileSync(path.join(dir, f), c);
    execFileSync('mcopy', ['-i', boot, path.join(dir, f), `::${f}`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  }
  const rootDir = path.join(dir, 'rootdir');
  const files: Record<string, string> = {
    'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n',
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n',
    'etc/group': 'root:x:0:\ngpio:x:997:pi\ni2c:x:998:pi\ndialout:x:20:pi\nvideo:x:44:pi\n',
    'etc/hostname': 'raspberrypi\n',
    'lib/systemd/system/multi-user.target': '[Unit]\nDescription=Multi-User System\n',
    'usr/bin/.keep': '',
    'etc/systemd/system/multi-user.target.wants/.keep': '',
    'var/lib/.keep': '',
  };
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(rootDir, f)), { recursive: true });
    fs.writeFileSync(path.join(rootDir, f), c);
  }
  const root = path.join(dir, 'root.ext4');
  const rootMb = 48;
  execFileSync('mke2fs', ['-q', '-t', 'ext4', '-L', 'rootfs', '-d', rootDir, root, `${rootMb}M`]);
  const img = path.join(dir, 'raspios-lite.img');
  const bootStart = 8192;
  const rootStart = bootStart + bootMb * 2048;
  execFileSync('truncate', ['-s', `${(rootStart + rootMb * 2048) * 512}`, img]);
  execFileSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', img], { input: `label: dos\nlabel-id: ${BASE_SIGNATURE}\nstart=${bootStart}, size=${bootMb * 2048}, type=c, bootable\nstart=${rootStart}, size=${rootMb * 2048}, type=83\n` });
  execFileSync('dd', [`if=${boot}`, `of=${img}`, 'bs=512', `seek=${bootStart}`, 'conv=notrunc', 'status=none']);
  execFileSync('dd', [`if=${root}`, `of=${img}`, 'bs=512', `seek=${rootStart}`, 'conv=notrunc', 'status=none']);
  return img;
}
