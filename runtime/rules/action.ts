/**
 * Rule actions, normalised to a list of steps. The seed's string form is a call with plain
 * arguments — `spawn(code-reviewer-agent)`, `kill(x)`, `signal(x, SIGHUP)`, `hal(fan, on)`,
 * `publish(alerts/door)` — and the structured form is the YAML object (schema.ts). No shell, no
 * HTTP, no code: these are the only things a rule can do.
 */
import { halAction, killAction, publishAction, signalAction, spawnAction, type StructuredAction } from './schema';

export type Step =
  | { kind: 'spawn'; agent: string; env?: Record<string, string> }
  | { kind: 'kill'; target: string }
  | { kind: 'signal'; target: string; signal: string }
  | { kind: 'publish'; topic: string; data?: Record<string, unknown> }
  | { kind: 'hal'; device: string; command: string | Record<string, unknown> }
  | { kind: 'delay'; ms: number };

const CALL = /^([a-z]+)\(\s*([^()]*?)\s*\)$/;

/** The steps of an action, or a message saying what is wrong with it. */
export function normaliseAction(action: string | StructuredAction): Step[] | string {
  if (typeof action === 'string') {
    const m = CALL.exec(action.trim());
    if (!m) return `"${action.slice(0, 60)}" is not an action; write spawn(agent), kill(target), signal(target, SIGHUP), hal(device, command) or publish(topic)`;
    const verb = m[1] ?? '';
    const args = (m[2] ?? '').split(',').map((a) => a.trim().replace(/^(['"])(.*)\1$/, '$2'));
    const structured = fromCall(verb, args);
    if (typeof structured === 'string') return structured;
    return normaliseAction(structured);
  }
  if ('steps' in action) {
    const out: Step[] = [];
    for (const s of action.steps) {
      if ('delay' in s) out.push({ kind: 'delay', ms: s.delay });
      else out.push(...(normaliseAction(s) as Step[]));
    }
    return out;
  }
  if ('spawn' in action) return [{ kind: 'spawn', agent: action.spawn, ...(action.env ? { env: action.env } : {}) }];
  if ('kill' in action) return [{ kind: 'kill', target: action.kill }];
  if ('signal' in action) return [{ kind: 'signal', target: action.signal.target, signal: action.signal.signal }];
  if ('publish' in action) return [{ kind: 'publish', topic: action.publish.topic, ...(action.publish.data ? { data: action.publish.data } : {}) }];
  return [{ kind: 'hal', device: action.hal.device, command: action.hal.command }];
}

function fromCall(verb: string, args: string[]): StructuredAction | string {
  const want = (n: number): string | undefined => (args.length === n && args.every((a) => a !== '') ? undefined : `${verb}() takes ${n} argument${n === 1 ? '' : 's'}, got "${args.join(', ').slice(0, 60)}"`);
  const checked = (schema: { safeParse(v: unknown): { success: boolean; data?: unknown; error?: { issues: { message: string }[] } } }, v: unknown): StructuredAction | string => {
    const r = schema.safeParse(v);
    return r.success ? (r.data as StructuredAction) : `${verb}(${args.join(', ').slice(0, 60)}): ${r.error?.issues[0]?.message ?? 'invalid'}`;
  };
  switch (verb) {
    case 'spawn':
      return want(1) ?? checked(spawnAction, { spawn: args[0] });
    case 'kill':
      return want(1) ?? checked(killAction, { kill: args[0] });
    case 'signal':
      return want(2) ?? checked(signalAction, { signal: { target: args[0], signal: args[1] } });
    case 'hal':
      return want(2) ?? checked(halAction, { hal: { device: args[0], command: args[1] } });
    case 'publish':
      return want(1) ?? checked(publishAction, { publish: { topic: args[0] } });
    default:
      return `unknown action "${verb}"; rules can spawn, kill, signal, hal, publish, or run steps`;
  }
}

/** One line per step, for `rules test` and the audit log. */
export function describeSteps(steps: readonly Step[]): string {
  return steps
    .map((s) =>
      s.kind === 'spawn' ? `spawn ${s.agent}` : s.kind === 'kill' ? `kill ${s.target}` : s.kind === 'signal' ? `signal ${s.target} ${s.signal}` : s.kind === 'publish' ? `publish ${s.topic}` : s.kind === 'hal' ? `hal ${s.device} ${typeof s.command === 'string' ? s.command : JSON.stringify(s.command)}` : `wait ${s.ms} ms`,
    )
    .join(', then ');
}
