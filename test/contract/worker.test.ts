import path from 'node:path';
import { WorkerDriver } from '../../runtime/agents/drivers/worker';
import { REPO } from '../helpers/tmp';
import { describeDriverContract } from './driver.contract';
import { nodeHarness } from './node-harness';

describeDriverContract('worker', () => Promise.resolve(nodeHarness(new WorkerDriver({ hostPath: path.join(REPO, 'dist/sdk/worker-host.mjs'), separateUid: false }))));
