/**
 * Worker agents may not start workers of their own (issue 16). The agent host needs
 * `--allow-worker`, and Node's permission model is process-wide, so the agent's worker could
 * otherwise spin up threads with no `resourceLimits` whose load the host's per-worker figures
 * never saw. The runner calls this in the agent's worker before the agent's module is imported:
 * the `Worker` export of node:worker_threads becomes a constructor that throws what Node itself
 * throws without `--allow-worker` (so process and worker agents see the same refusal), and the
 * property is made read-only and non-configurable so the agent cannot put anything back.
 *
 * Why this holds on Node 20 (checked under the permission model, test/integration/worker-limits):
 * the ESM namespace of a builtin is a view of its CommonJS exports (`syncBuiltinESMExports`
 * refreshes it), so `import`, `await import`, `require` and `module._load` all see the refusal;
 * builtins cannot be loaded a second time (`node:worker_threads?x` is ERR_UNKNOWN_BUILTIN_MODULE);
 * `process.binding`, the inspector, child processes and WASI are denied by the permission model.
 * Should a way around it turn up, the limits still hold: they act on /proc of the host process,
 * which counts every thread in it.
 */
import { syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';

class RefusedWorker {
  constructor() {
    throw Object.assign(new Error('Access to this API has been restricted'), { code: 'ERR_ACCESS_DENIED', permission: 'WorkerThreads', resource: '' });
  }
}

export function refuseNestedWorkers(): void {
  Object.defineProperty(workerThreads, 'Worker', { value: RefusedWorker, writable: false, configurable: false, enumerable: true });
  syncBuiltinESMExports();
}
