import path from 'node:path';
import { ProcessDriver } from '../../runtime/agents/drivers/process';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { FIXTURES, REPO, tmpDir } from '../helpers/tmp';
import { describeDriverContract } from './driver.contract';
import fs from 'node:fs';

describeDriverContract('process', () => {
  const dir = tmpDir('osd-proc-');
  const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const installDir = path.join(FIXTURES, 'agents/contract');
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), 'contract');
  const driver = new ProcessDriver({ separateUid: false, runnerPath: path.join(REPO, 'dist/sdk/runner.mjs') });
  let n = 0;
  return Promise.resolve({
    driver,
    hasOsPid: true,
    async launch(behaviour) {
      const instance = `contract-${++n}`;
      const agent = { id: 'contract', name: 'c', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'process', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
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
