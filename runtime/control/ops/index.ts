/** The operation table: every operation the daemon serves, on every transport. */
import type { Operation } from '../op';
import { agentOps } from './agents';
import { daemonOps } from './daemon';
import { halOps } from './hal';
import { registryOps } from './registry';
import { ruleOps } from './rules';
import { dashboardOps } from './dashboard';
import { fleetOps } from './fleet';

export const OPERATIONS: readonly Operation[] = [...agentOps, ...registryOps, ...halOps, ...ruleOps, ...dashboardOps, ...fleetOps, ...daemonOps];
