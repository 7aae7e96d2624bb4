/**
 * A container never runs as uid 0 or gid 0 (issue 16), against a real engine: an image whose
 * /etc/passwd and /etc/group hide root behind names ("app" is uid 0, "svc" has gid 0, "member"
 * is in group root). agents.add refuses each way of naming root; what it accepts runs as that
 * uid and gid; and a launch of a root user never starts a container.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerDriver } from '../../../runtime/agents/drivers/docker/driver';
import { buildLaunchSpec } from '../../../runtime/agents/launch-spec';
import { validateManifest } from '../../../runtime/agents/manifest';
import { OszError } from '../../../runtime/errors';
import { memoryLogger } from '../../../runtime/log';
import { createStore } from '../../../runtime/store/store';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { busyboxRootfs, type Dockerd, dockerRequirements, importImage, startDockerd } from '../../helpers/dockerd';
import { describeWith } from '../../helpers/system';
import { REPO, tmpDir, waitFor } from '../../helpers/tmp';

const IMAGE = 'osd-test/users:1';
let dk: Dockerd;
let d: RunningDaemon;

function agentDir(id: string, user: string | undefined): string {
  const dir = path.join(tmpDir('osd-duser-'), id);
  fs.mkdirSync(dir);
  // prints who it runs as, then stays up
  const runtime = { driver: 'docker', image: IMAGE, command: ['sh', '-c', 'echo "ids: $(id -u) $(id -g) [$(id -G)]"; sleep 600'], ...(user !== undefined ? { user } : {}) };
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ identity: { id, name: id }, runtime, restart: { policy: 'no' } }));
  return dir;
}

describeWith('docker runtime.user never runs as root', dockerRequirements(), () => {
  beforeAll(async () => {
    dk = await startDockerd();
    const root = busyboxRootfs();
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:0:1000::/:/bin/sh\nsvc:x:1000:0::/:/bin/sh\nmember:x:1001:1001::/:/bin/sh\nok:x:1002:1002::/:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:member\nwheel:x:0:\nusers:x:1001:\nok:x:1002:\n');
    importImage(dk, root, IMAGE);
    d = await startDaemon({ config: { docker: { enabled: true, socket: dk.socket } } });
  }, 180_000);
  afterAll(async () => {
    expect(await d.stop()).toBe(0);
  });

  it('refuses at agent add every way runtime.user can name uid or gid 0, and installs none of them', async () => {
    const cases = ['root', '0', '0:1002', '1002:0', 'ok:root', 'app', 'svc', '1000', '4242', 'member', 'ok:wheel', 'ghost'];
    for (const [i, user] of cases.entries()) {
      const r = await d.cli(['agent', 'add', agentDir(`bad${i}`, user)]);
      expect(r.code, `${user}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr, user).toContain('OSZ_E_DRIVER_REFUSED');
      expect(r.stderr, user).toContain(`runtime.user "${user}"`);
    }
    expect((await d.cli(['agent', 'ls'])).stdout).not.toMatch(/bad\d/);
    // the throwaway containers the lookups made are gone
    expect(dk.docker(['ps', '-aq', '--filter', `ancestor=${IMAGE}`]).trim()).toBe('');
  }, 120_000);

  it('runs what it accepts as exactly that uid and gid', async () => {
    for (const [id, user, ids] of [
      ['good1', 'ok', 'ids: 1002 1002 [1002]'],
      ['good2', '1002:1002', 'ids: 1002 1002 [1002]'],
      ['good3', 'member:users', 'ids: 1001 1001 [1001]'],
    ] as const) {
      const r = await d.cli(['spawn', agentDir(id, user)]);
      expect(r.code, r.stderr).toBe(0);
      const instance = r.stdout.trim().split(' ').pop() ?? '';
      const log = await waitFor(`${id} says who it is`, async () => {
        const l = (await d.cli(['logs', instance, '-n', '50'])).stdout;
        return l.includes('ids:') ? l : undefined;
      }, 60_000);
      expect(log).toContain(ids);
      await d.cli(['kill', instance, '--signal', 'SIGKILL']);
    }
  }, 180_000);

  it('refuses a root user at launch too, before any container starts', async () => {
    const dir = tmpDir('osd-duser-drv-');
    const driver = new DockerDriver({ socketPath: dk.socket, runDir: path.join(dir, 'run'), sdkDir: path.join(REPO, 'dist/sdk'), homeLabel: 'user-test', network: 'bridge', pull: false, usageMs: 1000 });
    await driver.init();
    const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
    try {
      for (const user of ['app', 'svc', '1000', 'member']) {
        const installDir = agentDir(`drv-${user}`, user);
        const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), 'drv');
        const agent = { id: 'drv', name: 'drv', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'docker', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
        const { spec } = buildLaunchSpec({ instanceId: `drv-${user}`, agent, manifest, options: {}, dataRoot: path.join(dir, 'data'), separateUid: false, heartbeatMs: 1000, plugins: store.plugins, secrets: store.secrets });
        const err = await driver.launch(spec).then(
          () => undefined,
          (e: unknown) => e as OszError,
        );
        expect(err?.code, user).toBe('OSZ_E_DRIVER_REFUSED');
        expect(err?.message).toMatch(/runs as (uid 0|gid 0|supplementary group 0)/);
        // created to be looked at, removed unstarted
        expect(await driver.removeLeftovers()).toBe(0);
      }
    } finally {
      store.close();
      await driver.removeLeftovers();
    }
  }, 120_000);
});
