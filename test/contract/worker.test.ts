import fs from 'node:fs';
import path from 'node:path';
import { WorkerDriver } from '../../runtime/agents/drivers/worker';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { FIXTURES, REPO, tmpDir } from '../helpers/tmp';
import { describeDriverContract } from './driver.contract';

describeDriverContract('worker', () => {
  const dir = tmpDir('osd-work-');
  const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const installDir = path.join(FIXTURES, 'agents/contract');
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), 'contract');
  const driver = new WorkerDriver({ hostPath: path.join(REPO, 'dist/sdk/worker-host.mjs'), separateUid: false });
  let n = 0;
  return Promise.resolve({
    driver,
    hasOsPid: true,
    async launch(behaviour) {
      const instance = `wcontract-${++n}`;
      const agent = { id: 'contract', name: 'c', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'worker', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
      const { spec } = buildLaunchSpec({
        instanceId: instance,
        agent,
        manifest,
        options: { env: { BEHAVIOUR: behaviour } },
        dataRoot: path.join(dir, 'data'),
        separateUid: false,
        heartbeatMs: 1000,
        plugins: store.plugins,
        secrets: store.secrets,
      });
      return { agent: await driver.launch(spec), token: spec.token, instance };
    },
  });
});
