import path from 'node:path';
import { ProcessDriver } from '../../runtime/agents/drivers/process';
import { REPO } from '../helpers/tmp';
import { describeDriverContract } from './driver.contract';
import { nodeHarness } from './node-harness';

describeDriverContract('process', () => Promise.resolve(nodeHarness(new ProcessDriver({ separateUid: false, runnerPath: path.join(REPO, 'dist/sdk/runner.mjs') }))));
