/**
 * Instances and their runs: the desired state the supervisor reconciles against after any crash
 * (DESIGN §3, §12.1). `desired` changes through spawn, kill and the end of an instance; `state` mirrors what the
 * supervisor sees. An instance done by its policy is desired `stopped` (issue 17); the oldest of
 * those beyond `supervisor.keepExited` per agent are pruned, so the table stays small.
 */
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export type InstanceState = 'starting' | 'running' | 'backoff' | 'stopping' | 'exited' | 'failed';
export type Desired = 'running' | 'stopped';

export interface InstanceRecord {
  id: string;
  agentId: string;
  desired: Desired;
  state: InstanceState;
  restarts: number;
  osPid: number | null;
  osStartTime: number | null;
  bootId: string | null;
  exitCode: number | null;
  exitSignal: string | null;
  reason: string | null;
  options: string;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  agent_id: string;
  desired: Desired;
  state: InstanceState;
  restarts: number;
  os_pid: number | null;
  os_start_time: number | null;
  boot_id: string | null;
  exit_code: number | null;
  exit_signal: string | null;
  reason: string | null;
  options: string;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: Row): InstanceRecord => ({
  id: r.id,
  agentId: r.agent_id,
  desired: r.desired,
  state: r.state,
  restarts: r.restarts,
  osPid: r.os_pid,
  osStartTime: r.os_start_time,
  bootId: r.boot_id,
  exitCode: r.exit_code,
  exitSignal: r.exit_signal,
  reason: r.reason,
  options: r.options,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export type InstancePatch = Partial<Pick<InstanceRecord, 'desired' | 'state' | 'restarts' | 'osPid' | 'osStartTime' | 'bootId' | 'exitCode' | 'exitSignal' | 'reason'>>;

const COLUMN: Record<keyof InstancePatch, string> = {
  desired: 'desired',
  state: 'state',
  restarts: 'restarts',
  osPid: 'os_pid',
  osStartTime: 'os_start_time',
  bootId: 'boot_id',
  exitCode: 'exit_code',
  exitSignal: 'exit_signal',
  reason: 'reason',
};

export class InstancesRepo {
  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  create(id: string, agentId: string, options: string, now: number): void {
    this.guard.run('record the instance', () =>
      this.db
        .prepare(`INSERT INTO instances (id, agent_id, desired, state, options, created_at, updated_at) VALUES (?, ?, 'running', 'starting', ?, ?, ?)`)
        .run(id, agentId, options, now, now),
    );
  }

  get(id: string): InstanceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM instances ORDER BY created_at, id').all() as Row[]).map(fromRow);
  }

  byAgent(agentId: string): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM instances WHERE agent_id = ? ORDER BY created_at, id').all(agentId) as Row[]).map(fromRow);
  }

  desiredRunning(): InstanceRecord[] {
    return (this.db.prepare(`SELECT * FROM instances WHERE desired = 'running' ORDER BY created_at, id`).all() as Row[]).map(fromRow);
  }

  /** Writes only the columns given, and only when something changed (SD wear, DESIGN §7). */
  update(id: string, patch: InstancePatch, now: number): void {
    const keys = (Object.keys(patch) as Array<keyof InstancePatch>).filter((k) => patch[k] !== undefined);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMN[k]} = ?`).join(', ');
    const changed = keys.map((k) => `${COLUMN[k]} IS NOT ?`).join(' OR ');
    const values = keys.map((k) => patch[k] as string | number | null);
    this.guard.run('update the instance', () =>
      this.db.prepare(`UPDATE instances SET ${sets}, updated_at = ? WHERE id = ? AND (${changed})`).run(...values, now, id, ...values),
    );
  }

  startRun(instanceId: string, osPid: number | null, now: number): number {
    return this.guard.run('record the run', () => {
      const res = this.db.prepare('INSERT INTO runs (instance_id, started_at, os_pid) VALUES (?, ?, ?)').run(instanceId, now, osPid);
      return Number(res.lastInsertRowid);
    });
  }

  endRun(runId: number, exit: { code: number | null; signal: string | null; reason: string | null }, now: number): void {
    this.guard.run('close the run', () =>
      this.db.prepare('UPDATE runs SET ended_at = ?, exit_code = ?, exit_signal = ?, reason = ? WHERE id = ?').run(now, exit.code, exit.signal, exit.reason, runId),
    );
  }

  runs(instanceId: string): Array<{ startedAt: number; endedAt: number | null; osPid: number | null; exitCode: number | null; exitSignal: string | null; reason: string | null }> {
    return (
      this.db.prepare('SELECT * FROM runs WHERE instance_id = ? ORDER BY id').all(instanceId) as Array<{
        started_at: number;
        ended_at: number | null;
        os_pid: number | null;
        exit_code: number | null;
        exit_signal: string | null;
        reason: string | null;
      }>
    ).map((r) => ({ startedAt: r.started_at, endedAt: r.ended_at, osPid: r.os_pid, exitCode: r.exit_code, exitSignal: r.exit_signal, reason: r.reason }));
  }

  /**
   * Drops an agent's oldest stopped, terminal instances past `keep` (issue 17: one-shot jobs add
   * one row each, forever); answers the ids removed, whose logs go too. Runs cascade.
   */
  pruneAgent(agentId: string, keep: number): string[] {
    return this.pruneWhere('AND agent_id = ?', [agentId], keep);
  }

  /** The same, for every agent at once (daemon start). */
  pruneAll(keep: number): string[] {
    return this.pruneWhere('', [], keep);
  }

  private pruneWhere(filter: string, args: string[], keep: number): string[] {
    return this.guard.run('prune instances', () =>
      this.db.transaction(() => {
        const rows = this.db
          .prepare(
            `SELECT id FROM (
               SELECT id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY updated_at DESC, id DESC) AS n
               FROM instances WHERE desired = 'stopped' AND state IN ('exited', 'failed') ${filter})
             WHERE n > ?`,
          )
          .all(...args, keep) as Array<{ id: string }>;
        const del = this.db.prepare('DELETE FROM instances WHERE id = ?');
        for (const r of rows) del.run(r.id);
        return rows.map((r) => r.id);
      })(),
    );
  }
}
