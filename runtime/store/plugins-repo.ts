/** Registered plugins: shared code copied into the store, readable by the agents that name it. */
import { OszError } from '../errors';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface PluginRecord {
  name: string;
  version: string | null;
  hash: string;
  storePath: string;
  sourcePath: string;
  installedAt: number;
}

interface Row {
  name: string;
  version: string | null;
  hash: string;
  store_path: string;
  source_path: string;
  installed_at: number;
}

const fromRow = (r: Row): PluginRecord => ({
  name: r.name,
  version: r.version,
  hash: r.hash,
  storePath: r.store_path,
  sourcePath: r.source_path,
  installedAt: r.installed_at,
});

export class PluginsRepo {
  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  get(name: string): PluginRecord | undefined {
    const row = this.db.prepare('SELECT * FROM plugins WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  require(name: string): PluginRecord {
    const rec = this.get(name);
    if (!rec) throw new OszError('OSZ_E_NO_SUCH_PLUGIN', `no plugin "${name}" is registered`, { plugin: name });
    return rec;
  }

  list(): PluginRecord[] {
    return (this.db.prepare('SELECT * FROM plugins ORDER BY name').all() as Row[]).map(fromRow);
  }

  upsert(rec: Omit<PluginRecord, 'installedAt'>, now: number): void {
    this.guard.run('record the plugin', () =>
      this.db
        .prepare(
          `INSERT INTO plugins (name, version, hash, store_path, source_path, installed_at) VALUES (?,?,?,?,?,?)
           ON CONFLICT(name) DO UPDATE SET version=excluded.version, hash=excluded.hash, store_path=excluded.store_path,
             source_path=excluded.source_path, installed_at=excluded.installed_at`,
        )
        .run(rec.name, rec.version, rec.hash, rec.storePath, rec.sourcePath, now),
    );
  }

  remove(name: string): void {
    this.guard.run('remove the plugin', () => this.db.prepare('DELETE FROM plugins WHERE name = ?').run(name));
  }

  hashesInUse(): Set<string> {
    return new Set((this.db.prepare('SELECT hash FROM plugins').all() as Array<{ hash: string }>).map((r) => r.hash));
  }
}
