/** The shared driver contract against a real Docker engine (a private dockerd) and the Node runner in a container. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { DockerDriver } from '../../runtime/agents/drivers/docker/driver';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { type Dockerd, dockerRequirements, importImage, nodeRootfs, startDockerd } from '../helpers/dockerd';
import { describeWith } from '../helpers/system';
import { FIXTURES, REPO, tmpDir } from '../helpers/tmp';
import { describeDriverContract, type DriverHarness } from './driver.contract';

let d: Dockerd;
let driver: DockerDriver;
const dir = tmpDir('osd-docker-contract-');

describeWith('docker driver contract', dockerRequirements(), () => {
  beforeAll(async () => {
    d = await startDockerd();
    importImage(d, nodeRootfs(), 'osd-test/node:1');
    driver = new DockerDriver({ socketPath: d.socket, runDir: path.join(dir, 'run'), sdkDir: path.join(REPO, 'dist/sdk'), homeLabel: 'contract', network: 'bridge', pull: false, usageMs: 1000 });
    await driver.init();
  }, 120_000);
  afterAll(async () => {
    await driver.removeLeftovers();
  });

  describeDriverContract('docker', (): Promise<DriverHarness> => {
    const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
    const installDir = path.join(FIXTURES, 'agents/contract');
    const base = JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    const manifest = validateManifest({ ...base, runtime: { driver: 'docker', image: 'osd-test/node:1', entry: 'main.mjs' } }, 'contract');
    const agent = { id: 'contract', name: 'c', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'docker', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
    let n = 0;
    return Promise.resolve({
      driver,
      hasOsPid: true,
      async launch(behaviour) {
        const instance = `docker-contract-${++n}`;
        const { spec } = buildLaunchSpec({ instanceId: instance, agent, manifest, options: { env: { BEHAVIOUR: behaviour } }, dataRoot: path.join(dir, 'data'), separateUid: false, heartbeatMs: 1000, plugins: store.plugins, secrets: store.secrets });
        return { agent: await driver.launch(spec), token: spec.token, instance };
      },
    });
  });
});
