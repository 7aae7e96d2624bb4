/**
 * Rule sets in SQLite (DESIGN §6): each import is one transaction that stores the source, its
 * rules and makes it the active set, so a failed write leaves the previous set active. The last
 * 20 sets are kept as history. The engine's pending state (for/debounce timers, dedup keys) is
 * one row, rewritten only when it changed.
 */
import type { SavedState } from '../rules/state';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface StoredRuleSet {
  id: number;
  etag: string;
  source: string;
  file: string;
  actor: string;
  appliedAt: number;
}

export interface RuleRow {
  id: string;
  on: string[];
  condition?: string;
  action: string;
}

const KEEP = 20;

export class RulesRepo {
  private lastState = '';

  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  active(): StoredRuleSet | undefined {
    const r = this.db.prepare('SELECT id, etag, source, file, actor, applied_at AS appliedAt FROM rule_sets WHERE active = 1').get() as StoredRuleSet | undefined;
    return r;
  }

  /** the etag of the newest set applied by `actor` (kept or not) */
  lastEtagBy(actor: string): string | undefined {
    const r = this.db.prepare('SELECT etag FROM rule_sets WHERE actor = ? ORDER BY id DESC LIMIT 1').get(actor) as { etag: string } | undefined;
    return r?.etag;
  }

  history(): Omit<StoredRuleSet, 'source'>[] {
    return this.db.prepare('SELECT id, etag, file, actor, applied_at AS appliedAt FROM rule_sets ORDER BY id DESC').all() as Omit<StoredRuleSet, 'source'>[];
  }

  apply(set: { etag: string; source: string; file: string; actor: string; rules: readonly RuleRow[] }, now = Date.now()): StoredRuleSet {
    return this.guard.run('store the rule set', () =>
      this.db.transaction(() => {
        this.db.prepare('UPDATE rule_sets SET active = 0 WHERE active = 1').run();
        const id = Number(this.db.prepare('INSERT INTO rule_sets (etag, source, file, actor, applied_at, active) VALUES (?, ?, ?, ?, ?, 1)').run(set.etag, set.source, set.file, set.actor, now).lastInsertRowid);
        const insert = this.db.prepare('INSERT INTO rules (set_id, id, position, event, condition, action) VALUES (?, ?, ?, ?, ?, ?)');
        set.rules.forEach((r, i) => insert.run(id, r.id, i, r.on.join(','), r.condition ?? null, r.action));
        // history: the last KEEP sets, and always the newest one imported from the home file at start
        this.db.prepare("DELETE FROM rule_sets WHERE id <= ? AND active = 0 AND id NOT IN (SELECT MAX(id) FROM rule_sets WHERE actor = 'daemon:start')").run(id - KEEP);
        return { id, etag: set.etag, source: set.source, file: set.file, actor: set.actor, appliedAt: now };
      })(),
    );
  }

  rules(setId: number): RuleRow[] {
    const rows = this.db.prepare('SELECT id, event, condition, action FROM rules WHERE set_id = ? ORDER BY position').all(setId) as Array<{ id: string; event: string; condition: string | null; action: string }>;
    return rows.map((r) => ({ id: r.id, on: r.event.split(','), ...(r.condition === null ? {} : { condition: r.condition }), action: r.action }));
  }

  loadState(): SavedState | undefined {
    const r = this.db.prepare('SELECT saved_at AS savedAt, boot_id AS bootId, pending FROM rule_state WHERE id = 1').get() as { savedAt: number; bootId: string; pending: string } | undefined;
    if (!r) return undefined;
    try {
      return { savedAt: r.savedAt, bootId: r.bootId, pending: JSON.parse(r.pending) as SavedState['pending'] };
    } catch {
      return undefined;
    }
  }

  /** Writes only when the pending state differs from what was last written (SD wear, DESIGN §7). */
  saveState(state: SavedState): void {
    const text = JSON.stringify(state.pending);
    if (text === this.lastState) return;
    this.guard.run('store the rule state', () =>
      this.db.prepare('INSERT INTO rule_state (id, saved_at, boot_id, pending) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, boot_id = excluded.boot_id, pending = excluded.pending').run(state.savedAt, state.bootId, text),
    );
    this.lastState = text;
  }
}
