/** Launch specs for the contract fixture agent, shared by the process and worker driver suites. */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentDriver } from '../../runtime/agents/drivers/driver';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { FIXTURES, tmpDir } from '../helpers/tmp';
import type { DriverHarness } from './driver.contract';

export function nodeHarness(driver: AgentDriver): DriverHarness {
  const dir = tmpDir(`osd-${driver.name}-`);
  const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const installDir = path.join(FIXTURES, 'agents/contract');
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), 'contract');
  const agent = { id: 'contract', name: 'c', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: driver.name, manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
  let n = 0;
  return {
    driver,
    hasOsPid: true,
    async launch(behaviour) {
      const instance = `${driver.name}-contract-${++n}`;
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
  };
}
