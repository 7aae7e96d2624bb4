// Docker driver figures for `npm run bench` (issue 6): an agent's spawn (create → start → hello on
// its socket) beside `docker run` of the same image by the docker CLI, in the same run, against a
// private dockerd. Skipped, with the reason printed, where no engine can start (not root, no dockerd).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DockerDriver } from '../../runtime/agents/drivers/docker/driver';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { importImage, launchDockerd, nodeRootfs } from '../../test/helpers/docker-engine';
import { median, spawnToHelloMs } from './measure';
import type { Add } from './wasm';

export async function dockerBench(root: string, work: string, add: Add): Promise<void> {
  const why = process.getuid?.() !== 0 ? 'not root' : !hasCommand('dockerd') ? 'no dockerd (apt-get install docker.io)' : undefined;
  if (why) {
    console.log(`docker bench skipped: ${why}`);
    return;
  }
  const d = await launchDockerd();
  try {
    importImage(d, nodeRootfs(), 'osd-bench/node:1');
    const store = createStore(path.join(work, 'docker.db'), memoryLogger(), { keepEvents: 10 });
    const driver = new DockerDriver({ socketPath: d.socket, runDir: path.join(work, 'drun'), sdkDir: path.join(root, 'dist/sdk'), homeLabel: 'bench', network: 'bridge', pull: false, usageMs: 2000 });
    await driver.init();
    const installDir = path.join(root, 'test/fixtures/agents/contract');
    const manifest = validateManifest({ identity: { id: 'contract', name: 'c' }, runtime: { image: 'osd-bench/node:1', entry: 'main.mjs' } }, 'bench');
    const agent = { id: 'contract', name: 'c', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'docker', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
    fs.mkdirSync(path.join(work, 'ddata'), { recursive: true });
    const cli: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      d.docker(['run', '--rm', '--network', 'none', 'osd-bench/node:1', 'node', '-e', '0']);
      cli.push(performance.now() - t0);
      const { spec } = buildLaunchSpec({ instanceId: `db-${i}`, agent, manifest, options: {}, dataRoot: path.join(work, 'ddata'), separateUid: false, heartbeatMs: 5000, plugins: store.plugins, secrets: store.secrets });
      ours.push(await spawnToHelloMs(driver, spec));
    }
    store.close();
    add('docker agent spawn to hello vs `docker run` of the same image (CLI)', median(ours.slice(2)), 'ms', median(cli.slice(2)), 1.5);
  } finally {
    await d.stop();
  }
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
