/**
 * First boot through the real launcher (`openstarryd firstboot`), then the daemon on the same home:
 * a rejected device.yaml leaves it running local-only with the reason on /healthz (and so on the
 * status page); a good one is applied and the daemon comes up with its fleet settings.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon';
import { REPO, tmpDir } from '../helpers/tmp';

const launcher = path.join(REPO, 'bin/openstarryd');

function healthz(addr: string): Promise<{ status: number; body: { status: string; subsystems: Array<{ name: string; state: string; detail?: string }> } }> {
  const [hostname, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port: Number(port), path: '/healthz', headers: { host: addr } }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as never }));
      })
      .on('error', reject);
  });
}

describe('first boot, then the daemon', () => {
  it('a rejected device.yaml: the daemon runs local-only and /healthz says why', async () => {
    const root = tmpDir('osd-fbi-');
    const boot = path.join(root, 'boot');
    const home = path.join(root, 'home');
    fs.mkdirSync(path.join(boot, 'openstarry'), { recursive: true });
    fs.writeFileSync(path.join(boot, 'openstarry/device.yaml'), 'fleet:\n  passwordFile: /etc/shadow\n');
    const out = execFileSync(launcher, ['firstboot', '--boot', boot, '--etc', path.join(root, 'etc'), '--home', home], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
    expect(fs.existsSync(path.join(root, 'etc'))).toBe(false);
    const d = await startDaemon({ home });
    const h = await healthz(d.http);
    expect(h.status).toBe(200);
    expect(h.body.subsystems.find((s) => s.name === 'firstboot')).toMatchObject({ state: 'degraded', detail: expect.stringContaining('may not name files (fleet.passwordFile)') as unknown });
    expect(h.body.subsystems.find((s) => s.name === 'fleet')?.state).toBe('disabled');
    await d.stop();
  }, 60_000);

  it('a good device.yaml is applied, and the daemon uses it as its config fragment', async () => {
    const root = tmpDir('osd-fbi-');
    const boot = path.join(root, 'boot');
    const etc = path.join(root, 'etc');
    const home = path.join(root, 'home');
    fs.mkdirSync(path.join(boot, 'openstarry'), { recursive: true });
    fs.writeFileSync(path.join(boot, 'openstarry/device.yaml'), 'fleet:\n  deviceId: gh-card-7\n  broker: mqtt://127.0.0.1:9\n');
    const out = execFileSync(launcher, ['firstboot', '--boot', boot, '--etc', etc, '--home', home], { encoding: 'utf8' });
    expect(out).toMatch(/applied device\.yaml/);
    fs.writeFileSync(path.join(etc, 'openstarryd.yaml'), 'http: { listen: "127.0.0.1:0" }\n');
    const d = await startDaemon({ home, writeConfig: false, args: ['--config', path.join(etc, 'openstarryd.yaml')] });
    const h = await healthz(d.http);
    expect(h.body.subsystems.find((s) => s.name === 'fleet')).toMatchObject({ state: 'degraded', detail: expect.stringContaining('mqtt://127.0.0.1:9') as unknown });
    expect(h.body.subsystems.some((s) => s.name === 'firstboot')).toBe(false);
    expect((await d.json<{ deviceId?: string }>(['status'])).deviceId).toBe('gh-card-7');
    await d.stop();
  }, 60_000);
});
