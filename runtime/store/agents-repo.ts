/** The registry of installed agents and their install history (DESIGN §12.9). */
import { OszError } from '../errors';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface AgentRecord {
  id: string;
  name: string;
  version: string | null;
  hash: string;
  storePath: string;
  sourcePath: string;
  driver: string;
  manifest: string;
  uid: number | null;
  installedAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  version: string | null;
  hash: string;
  store_path: string;
  source_path: string;
  driver: string;
  manifest: string;
  uid: number | null;
  installed_at: number;
  updated_at: number;
}

const fromRow = (r: Row): AgentRecord => ({
  id: r.id,
  name: r.name,
  version: r.version,
  hash: r.hash,
  storePath: r.store_path,
  sourcePath: r.source_path,
  driver: r.driver,
  manifest: r.manifest,
  uid: r.uid,
  installedAt: r.installed_at,
  updatedAt: r.updated_at,
});

export class AgentsRepo {
  /** the installed ids, read again after this process changes the table (it is the only writer) */
  private idSet: ReadonlySet<string> | undefined;

  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  /** The installed agents' ids: the same set object until an agent is added or removed. */
  ids(): ReadonlySet<string> {
    this.idSet ??= new Set((this.db.prepare('SELECT id FROM agents').all() as Array<{ id: string }>).map((r) => r.id));
    return this.idSet;
  }

  get(id: string): AgentRecord | undefined {
    const row = this.db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  require(id: string): AgentRecord {
    const rec = this.get(id);
    if (!rec) throw new OszError('OSZ_E_NO_SUCH_AGENT', `no agent "${id}" is installed`, { agent: id });
    return rec;
  }

  list(): AgentRecord[] {
    return (this.db.prepare('SELECT * FROM agents ORDER BY id').all() as Row[]).map(fromRow);
  }

  /** Inserts or upgrades; returns the previous hash when this was an upgrade. */
  upsert(rec: Omit<AgentRecord, 'installedAt' | 'updatedAt' | 'uid'>, uidRange: { base: number; count: number }, now: number): { previousHash?: string; uid: number } {
    this.idSet = undefined;
    return this.guard.run('record the agent install', () =>
      this.db.transaction(() => {
        const prev = this.get(rec.id);
        const uid = prev?.uid ?? this.freeUid(uidRange);
        if (prev) {
          this.db
            .prepare('UPDATE agents SET name=?, version=?, hash=?, store_path=?, source_path=?, driver=?, manifest=?, updated_at=? WHERE id=?')
            .run(rec.name, rec.version, rec.hash, rec.storePath, rec.sourcePath, rec.driver, rec.manifest, now, rec.id);
        } else {
          this.db
            .prepare('INSERT INTO agents (id,name,version,hash,store_path,source_path,driver,manifest,uid,installed_at,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
            .run(rec.id, rec.name, rec.version, rec.hash, rec.storePath, rec.sourcePath, rec.driver, rec.manifest, uid, now, now);
        }
        this.db
          .prepare('INSERT INTO agent_versions (agent_id, hash, version, previous_hash, installed_at) VALUES (?,?,?,?,?)')
          .run(rec.id, rec.hash, rec.version, prev?.hash ?? null, now);
        return { ...(prev ? { previousHash: prev.hash } : {}), uid };
      })(),
    );
  }

  history(id: string): Array<{ hash: string; version: string | null; previousHash: string | null; installedAt: number }> {
    return (
      this.db.prepare('SELECT hash, version, previous_hash, installed_at FROM agent_versions WHERE agent_id = ? ORDER BY id').all(id) as Array<{
        hash: string;
        version: string | null;
        previous_hash: string | null;
        installed_at: number;
      }>
    ).map((r) => ({ hash: r.hash, version: r.version, previousHash: r.previous_hash, installedAt: r.installed_at }));
  }

  remove(id: string): void {
    this.idSet = undefined;
    this.guard.run('remove the agent', () => this.db.prepare('DELETE FROM agents WHERE id = ?').run(id));
  }

  /** Hashes still referenced by an installed agent (the store keeps these folders). */
  hashesInUse(): Set<string> {
    return new Set((this.db.prepare('SELECT hash FROM agents').all() as Array<{ hash: string }>).map((r) => r.hash));
  }

  private freeUid(range: { base: number; count: number }): number {
    const used = new Set((this.db.prepare('SELECT uid FROM agents WHERE uid IS NOT NULL').all() as Array<{ uid: number }>).map((r) => r.uid));
    for (let uid = range.base; uid < range.base + range.count; uid++) if (!used.has(uid)) return uid;
    throw new OszError('OSZ_E_DRIVER_REFUSED', `no free agent uid left in ${range.base}..${range.base + range.count - 1}; raise sandbox.uidCount`);
  }
}
