import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DoctorCheck, runDoctor } from '../../../runtime/doctor';
import { memoryLogger } from '../../../runtime/log';
import { createStore, type Store } from '../../../runtime/store/store';
import { loadProfile } from '../../../hal/profile/load';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

let store: Store;
afterEach(() => store.close());

function doctor(over: Partial<Parameters<typeof runDoctor>[0]> = {}): Record<string, DoctorCheck> {
  const home = tmpDir('osd-doc-');
  store = createStore(path.join(home, 'db'), memoryLogger(), { keepEvents: 10 });
  const checks = runDoctor({
    home,
    socket: path.join(home, 'nope.sock'),
    tokenFile: path.join(home, 'control.token'),
    store,
    isRoot: false,
    sandbox: { mode: 'refused', separateUid: false, setprivPath: undefined, daemon: { uid: 1000, caps: [] }, reason: 'the daemon (uid 1000) lacks CAP_SETUID', warnings: [] },
    runnerPath: undefined,
    dockerEnabled: false,
    exec: (cmd) => (cmd === 'timedatectl' ? 'yes\n' : undefined),
    sysRoot: path.join(home, 'no-sys'),
    platformRoot: path.join(home, 'no-root'),
    ...over,
  });
  return Object.fromEntries(checks.map((c) => [c.name, c]));
}

describe('doctor', () => {
  it('passes the basics and says how to fix what fails', () => {
    const c = doctor();
    expect(c.clock?.status).toBe('ok');
    expect(c.disk?.status).toBe('ok');
    expect(c.filesystem?.status).toBe('ok');
    expect(c.store?.status).toBe('ok');
    expect(c['permission-model']?.status).toBe('ok');
    expect(c['env-allow-list']?.status).toBe('ok');
    expect(c['control-socket']).toMatchObject({ status: 'fail' });
    expect(c['control-socket']?.fix).toBeTruthy();
    expect(c['agent-uid']?.status).toBe('warn');
  });

  it('fails a clock from before this release, and warns when sync cannot be confirmed', () => {
    expect(doctor({ now: Date.parse('1970-01-01T00:01:00Z') }).clock?.status).toBe('fail');
    expect(doctor({ exec: () => undefined }).clock?.status).toMatch(/warn|ok/);
  });

  it('reads eMMC wear and read-only mounts', () => {
    const c = doctor({ sysRoot: path.join(FIXTURES, 'sys') });
    expect(c['sd-card']).toMatchObject({ status: 'fail' });
    expect(c['sd-card']?.detail).toContain('pre_eol_info 0x03');
    const ro = doctor({ procRoot: path.join(FIXTURES, 'proc-ro'), home: '/var/lib/openstarry/x' });
    expect(ro.filesystem).toMatchObject({ status: 'fail' });
    expect(ro.filesystem?.detail).toContain('read-only');
  });

  it('flags a root daemon without per-agent uids and a token others can read', async () => {
    const shared = doctor({ sandbox: { mode: 'shared-uid', separateUid: false, setprivPath: undefined, daemon: { uid: 1000, caps: [] }, reason: 'x', warnings: [] } })['agent-uid'];
    expect(shared?.status).toBe('fail');
    expect(shared?.detail).toContain('sandbox.shareUid');
    const own = doctor({ sandbox: { mode: 'own-uid', separateUid: true, setprivPath: '/usr/bin/setpriv', daemon: { uid: 999, caps: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP'] }, reason: '', warnings: [] } })['agent-uid'];
    expect(own?.status).toBe('ok');
    expect(own?.detail).toContain('uid 999 with CAP_CHOWN');
    const home = tmpDir('osd-doc-');
    const sock = path.join(home, 's.sock');
    fs.writeFileSync(path.join(home, 'control.token'), 't');
    fs.chmodSync(path.join(home, 'control.token'), 0o644);
    const server = net.createServer().listen(sock);
    await new Promise((r) => server.once('listening', r));
    const c = doctor({ socket: sock, tokenFile: path.join(home, 'control.token') })['control-socket'];
    server.close();
    expect(c?.status).toBe('fail');
    expect(c?.detail).toContain('readable by others');
  });

  it("reads the Pi firmware's throttling flags: past under-voltage warns, none is ok, no Pi says nothing", () => {
    expect(doctor({ platformRoot: path.join(FIXTURES, 'boards/pi5') }).power).toMatchObject({ status: 'warn', detail: expect.stringContaining('under-voltage, throttling') as unknown });
    expect(doctor({ platformRoot: path.join(FIXTURES, 'boards/pi4') }).power).toMatchObject({ status: 'ok' });
    expect(doctor().power).toBeUndefined();
    const root = tmpDir('osd-thr-');
    fs.mkdirSync(path.join(root, 'sys/devices/platform/soc/soc:firmware'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sys/devices/platform/soc/soc:firmware/get_throttled'), '50005\n');
    expect(doctor({ platformRoot: root }).power).toMatchObject({ status: 'fail', detail: expect.stringContaining('under-voltage, throttled now') as unknown });
  });

  it('checks a real board: the GPIO chip and base, each bus with its config.txt fix, rpicam-vid, the groups', () => {
    const boardsDir = tmpDir('osd-doc-boards-');
    fs.writeFileSync(
      path.join(boardsDir, 'gh.yaml'),
      [
        'schema: openstarry.board/v1',
        'name: gh',
        'extends: raspberrypi-4b',
        'buses:',
        '  i2c3: { kind: i2c, device: i2c3, configTxt: "dtoverlay=i2c3" }',
        'devices:',
        '  - { id: fan, kind: actuator, driver: gpio-out, pin: gpio27, commands: [on, off], safeState: off }',
        '  - { id: cam0, kind: camera, driver: rpicam, width: 640, height: 480, fps: 5 }',
        '  - { id: leaf, kind: sensor, driver: bme280, bus: i2c3, address: 0x77, channels: { temperature: { unit: C } } }',
        '',
      ].join('\n'),
    );
    const board = loadProfile('gh', [boardsDir, path.join(FIXTURES, '../../boards')]);
    const c = doctor({ board, platformRoot: path.join(FIXTURES, 'boards/pi4'), exec: () => undefined });
    expect(c.gpio).toMatchObject({ status: 'ok', detail: 'pinctrl-bcm2711 at sysfs base 512 (GPIO17 is 529)' });
    expect(c['bus i2c1']).toMatchObject({ status: 'ok', detail: 'i2c on /dev/i2c-1' });
    expect(c['bus uart0']).toMatchObject({ status: 'ok', detail: 'serial on /dev/ttyS0' });
    expect(c['bus i2c3']).toMatchObject({ status: 'fail', fix: 'add "dtoverlay=i2c3" to /boot/firmware/config.txt and reboot' });
    expect(c['bus pwm0']).toMatchObject({ status: 'ok', detail: 'pwm on /sys/class/pwm/pwmchip0' });
    // a header bus that no device uses need not be enabled
    const bare = doctor({ board, platformRoot: tmpDir('osd-doc-bare-'), exec: () => undefined });
    expect(bare['bus uart0']).toMatchObject({ status: 'ok', detail: 'not enabled; no device of this board uses it' });
    expect(bare['bus i2c3']?.status).toBe('fail');
    expect(c.camera).toMatchObject({ status: 'fail', fix: 'apt-get install rpicam-apps' });
    expect(c.groups?.status).toBe('warn');
    expect(c.groups?.fix).toMatch(/usermod -aG .*gpio/);
    const onPi5 = doctor({ board, platformRoot: path.join(FIXTURES, 'boards/pi5') });
    expect(onPi5.gpio).toMatchObject({ status: 'fail', detail: expect.stringContaining('no GPIO chip labelled pinctrl-bcm2711') as unknown });
    expect(doctor({ board: loadProfile('sim', [path.join(FIXTURES, '../../boards')]) }).gpio).toBeUndefined();
  });
});

