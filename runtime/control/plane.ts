/**
 * The control plane: the one place operations are looked up, their params validated, the
 * caller's role checked, and mutating calls audited (DESIGN §12.2). Every transport calls
 * `call()`; none adds behaviour of its own.
 */
import { OszError, toOszError } from '../errors';
import { closest } from '../util/suggest';
import { type Caller, type Operation, ROLE_RANK } from './op';
import type { ControlServices } from './services';

export class ControlPlane {
  private readonly byName = new Map<string, Operation>();

  constructor(
    operations: readonly Operation[],
    private readonly services: ControlServices,
  ) {
    for (const op of operations) {
      for (const n of [op.name, ...(op.aliases ?? [])]) {
        if (this.byName.has(n)) throw new Error(`operation ${n} is declared twice`);
        this.byName.set(n, op);
      }
    }
  }

  operations(): Operation[] {
    return [...new Set(this.byName.values())];
  }

  find(name: string): Operation | undefined {
    return this.byName.get(name);
  }

  async call(name: string, rawParams: unknown, caller: Caller): Promise<unknown> {
    const op = this.byName.get(name);
    if (!op) {
      const guess = closest(name, this.byName.keys());
      throw new OszError('OSZ_E_UNKNOWN_OPERATION', `unknown operation "${name.slice(0, 128)}"${guess ? `; did you mean "${guess}"?` : ''}`);
    }
    if (ROLE_RANK[caller.role] < ROLE_RANK[op.role]) {
      this.audit(op, rawParams, caller, 'denied', 'OSZ_E_FORBIDDEN');
      throw new OszError('OSZ_E_FORBIDDEN', `${op.name} needs role ${op.role}; ${caller.actor} has ${caller.role}`);
    }
    if (caller.transport === 'mqtt' && !op.remote) {
      this.audit(op, rawParams, caller, 'denied', 'OSZ_E_FORBIDDEN');
      throw new OszError('OSZ_E_FORBIDDEN', `${op.name} cannot be called remotely`);
    }
    const parsed = op.params.safeParse(rawParams ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(params)'}: ${i.message}`);
      throw new OszError('OSZ_E_INVALID_PARAMS', `${op.name}: ${problems.join('; ')}`, { problems });
    }
    try {
      const result: unknown = await op.handler(parsed.data, { caller, services: this.services });
      if (op.mutating) this.audit(op, parsed.data, caller, 'ok');
      return result;
    } catch (err) {
      const e = toOszError(err);
      if (e.code === 'OSZ_E_INTERNAL') this.services.log.error('control', `${op.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (op.mutating) this.audit(op, parsed.data, caller, 'error', e.code);
      throw e;
    }
  }

  /** Records a refusal that happened before any operation was chosen (e.g. a wrong token). */
  recordDenied(actor: string, what: string, code: string): void {
    try {
      this.services.store.audit.append({ ts: Date.now(), actor, op: what, params: {}, outcome: 'denied', errorCode: code });
    } catch (err) {
      this.services.log.error('audit', `could not write the audit log for ${what}: ${(err as Error).message}`);
    }
  }

  private audit(op: Operation, params: unknown, caller: Caller, outcome: 'ok' | 'error' | 'denied', errorCode?: string): void {
    const redacted: Record<string, unknown> = { ...(params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : {}) };
    for (const key of op.redact ?? []) if (key in redacted) redacted[key] = '***';
    try {
      this.services.store.audit.append({ ts: Date.now(), actor: caller.actor, op: op.name, params: redacted, outcome, errorCode });
    } catch (err) {
      // A full or read-only disk must not make the daemon refuse to stop an agent.
      this.services.log.error('audit', `could not write the audit log for ${op.name}: ${(err as Error).message}`);
    }
  }
}
