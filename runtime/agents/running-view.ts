/**
 * Running instances per agent, for rule conditions (`agents['pump-ctl']`) and probes (issue 17).
 * A view the supervisor keeps up to date as instances change state, never a scan per event: every
 * event that reaches a rule with an `if` reads it, at hundreds of events a second, for the
 * daemon's whole life. Every installed agent is in it, at 0 when nothing of it runs.
 */
import type { InstanceState } from '../store/instances-repo';

export class RunningView {
  private readonly counts = new Map<string, number>();
  private cached: Readonly<Record<string, number>> | undefined;
  private cachedIds: ReadonlySet<string> | undefined;

  /** `installed` answers the installed agents' ids; it is read again only when it hands a new set */
  constructor(private readonly installed: () => ReadonlySet<string>) {}

  /** An instance went from one state to another; only entering and leaving `running` count. */
  transition(agentId: string, from: InstanceState | undefined, to: InstanceState): void {
    const was = from === 'running';
    const is = to === 'running';
    if (was === is) return;
    const n = (this.counts.get(agentId) ?? 0) + (is ? 1 : -1);
    if (n > 0) this.counts.set(agentId, n);
    else this.counts.delete(agentId);
    this.cached = undefined;
  }

  /** agent id → running instances; the same frozen object until something changes */
  get(): Readonly<Record<string, number>> {
    const ids = this.installed();
    if (this.cached && ids === this.cachedIds) return this.cached;
    const out: Record<string, number> = {};
    for (const id of ids) out[id] = this.counts.get(id) ?? 0;
    this.cachedIds = ids;
    this.cached = Object.freeze(out);
    return this.cached;
  }

  running(agentId: string): number {
    return this.counts.get(agentId) ?? 0;
  }
}
