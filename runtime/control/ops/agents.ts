/** agents.* operations (DESIGN §12.15): install, remove, spawn, kill, signal, list, logs. */
import * as z from 'zod';
import { driverOf } from '../../agents/manifest';
import { capTrigger, triggerSchema } from '../../agents/trigger';
import { OszError } from '../../errors';
import { defineOp, streaming } from '../op';

const target = z.string().min(1).max(256);
const envRecord = z.record(z.string().max(128), z.string().max(4096)).optional();

export const agentOps = [
  defineOp({
    name: 'agents.add',
    summary: 'install an agent folder into the store (re-adding an id upgrades it)',
    params: z.strictObject({ path: z.string().min(1).max(4096) }),
    role: 'admin',
    mutating: true,
    remote: false,
    handler: async (p, { services }) => {
      const m = services.installer.readManifest(p.path);
      // docker agents: the image must be on the engine; its id is recorded (DESIGN §12.9)
      const imageDigest = driverOf(m) === 'docker' && !m.runtime.digest && m.runtime.image && services.imageId ? await services.imageId(m.runtime.image) : undefined;
      const image = m.runtime.digest ?? imageDigest;
      if (driverOf(m) === 'docker' && m.runtime.user !== undefined && image && services.checkDockerUser) await services.checkDockerUser(m.runtime.user, image);
      return services.installer.addAgent(p.path, imageDigest ? { imageDigest } : {});
    },
  }),
  defineOp({
    name: 'agents.remove',
    summary: 'uninstall an agent that has no running instances',
    params: z.strictObject({ agent: target }),
    role: 'admin',
    mutating: true,
    remote: false,
    handler: (p, { services }) => {
      const live = services.supervisor.liveInstancesOf(p.agent);
      if (live.length > 0) throw new OszError('OSZ_E_AGENT_IN_USE', `agent "${p.agent}" still has instances: ${live.join(', ')}`, { instances: live });
      services.installer.removeAgent(p.agent);
      return { removed: p.agent };
    },
  }),
  defineOp({
    name: 'agents.installed',
    summary: 'list installed agents',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) =>
      services.store.agents.list().map((a) => ({
        id: a.id,
        name: a.name,
        version: a.version,
        driver: a.driver,
        hash: a.hash,
        uid: a.uid,
        source: a.sourcePath,
        installedAt: a.installedAt,
        updatedAt: a.updatedAt,
        upgrades: services.store.agents.history(a.id).length - 1,
        ...grantsOf(a.manifest),
      })),
  }),
  defineOp({
    name: 'agents.spawn',
    summary: 'start a new instance of an installed agent',
    params: z.strictObject({
      agent: target,
      env: envRecord,
      cause: z.strictObject({ id: z.string().min(1).max(64), depth: z.number().int().min(0).max(64) }).optional().describe('the event a rule spawns it for (loop protection)'),
      deadline: z.number().int().min(0).optional().describe("rules only: when the rule's timeout kills the instance (Unix ms)"),
      trigger: triggerSchema.optional().describe('the whole event that woke it, handed to the agent (agent.init); its cause unless cause is given'),
    }),
    role: 'operator',
    mutating: true,
    remote: true,
    aliases: ['spawnAgent'],
    // the audit keeps the trigger's id in `cause`, not up to 64 KiB of its data
    redact: ['trigger'],
    handler: (p, { services, caller }) => {
      // A rule's spawn records the rule with the instance, so its limits survive restarts (issue 17).
      const rule = caller.transport === 'rules' ? caller.actor.replace(/^rules:/, '') : undefined;
      if (p.deadline !== undefined && rule === undefined) throw new OszError('OSZ_E_INVALID_PARAMS', 'deadline is set by rules only');
      const cause = p.cause ?? (p.trigger ? { id: p.trigger.id, depth: p.trigger.depth } : undefined);
      return services.supervisor.spawn(p.agent, {
        ...(p.env ? { env: p.env } : {}),
        ...(cause ? { cause } : {}),
        ...(p.trigger ? { trigger: capTrigger(p.trigger) } : {}),
        ...(rule ? { rule: { id: rule, ...(p.deadline !== undefined ? { deadline: p.deadline } : {}) } } : {}),
      });
    },
  }),
  defineOp({
    name: 'agents.kill',
    summary: 'stop an instance (or every instance of an agent) for good: TERM, grace, KILL',
    params: z.strictObject({ instance: target, signal: z.enum(['SIGTERM', 'SIGKILL']).default('SIGTERM'), graceMs: z.number().int().min(0).max(600_000).optional() }),
    role: 'operator',
    mutating: true,
    remote: true,
    aliases: ['killAgent'],
    handler: (p, { services }) => services.supervisor.kill(p.instance, p.signal, p.graceMs),
  }),
  defineOp({
    name: 'agents.signal',
    summary: 'deliver a signal to an instance and change nothing else',
    params: z.strictObject({ instance: target, signal: z.string().min(1).max(32) }),
    role: 'operator',
    mutating: true,
    remote: true,
    handler: (p, { services }) => services.supervisor.signal(p.instance, p.signal.toUpperCase().startsWith('SIG') ? p.signal.toUpperCase() : `SIG${p.signal.toUpperCase()}`),
  }),
  defineOp({
    name: 'agents.list',
    summary: 'list instances (running and desired running; all with all=true)',
    params: z.strictObject({ agent: target.optional(), all: z.boolean().default(false) }),
    role: 'viewer',
    mutating: false,
    remote: true,
    aliases: ['listAgents'],
    handler: (p, { services }) => services.supervisor.list({ ...(p.agent ? { agent: p.agent } : {}), all: p.all }),
  }),
  defineOp({
    name: 'agents.logs',
    summary: 'log lines of an instance or of all instances of an agent; follow=true keeps streaming',
    params: z.strictObject({ target, lines: z.number().int().min(0).max(10_000).default(100), follow: z.boolean().default(false) }),
    role: 'operator',
    mutating: false,
    remote: true,
    handler: (p, { services }) => {
      const { instances, lines } = services.supervisor.logLines(p.target, p.lines);
      if (!p.follow) return { instances, lines };
      // Following an agent also follows instances spawned after the call.
      const byAgent = services.store.agents.get(p.target) !== undefined;
      return streaming({ instances, lines }, (send) => {
        const stop = services.supervisor.logs.follow(byAgent ? ['*'] : instances, (line) => {
          if (!byAgent || services.store.instances.get(line.instance)?.agentId === p.target) send(line);
        });
        return stop;
      });
    },
  }),
];

/** what the status page shows of an installed agent's manifest: its limits and what it was granted */
function grantsOf(manifest: string): { limits?: unknown; capabilities?: unknown; restart?: unknown } {
  try {
    const m = JSON.parse(manifest) as { limits?: unknown; capabilities?: unknown; restart?: unknown };
    return { limits: m.limits, capabilities: m.capabilities, restart: m.restart };
  } catch {
    return {};
  }
}
