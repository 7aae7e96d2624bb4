/**
 * The event journal (issue 17) in a real SQLite file: an acknowledged event is readable by another
 * connection when durable() resolves; what arrives together shares one commit; the event log and
 * the outbox keep the order things happened in; a disk that refuses the commit fails the waiters,
 * keeps the entries, and writes them, in order, once it takes writes again.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../../../runtime/bus/envelope';
import { memoryLogger } from '../../../../runtime/log';
import { openStore, type OpenedStore } from '../../../../runtime/store/db';
import { EventJournal } from '../../../../runtime/store/event-journal';
import { EventsRepo } from '../../../../runtime/store/events-repo';
import { OutboxRepo } from '../../../../runtime/store/outbox-repo';
import { SecureBatch } from '../../../../runtime/store/secure-batch';
import { WriteGuard } from '../../../../runtime/store/write-guard';
import { tmpDir } from '../../../helpers/tmp';

const opened: OpenedStore[] = [];
afterEach(() => opened.splice(0).forEach((o) => o.close()));

function journal(commitWithinMs = 2): { j: EventJournal; file: string; store: OpenedStore; outbox: OutboxRepo } {
  const file = path.join(tmpDir('osd-journal-'), 'db');
  const store = openStore(file, memoryLogger());
  opened.push(store);
  const guard = new WriteGuard();
  const outbox = new OutboxRepo(store.db, guard, store.secure);
  const j = new EventJournal(new EventsRepo(store.db, store.secure, 1000), outbox, new SecureBatch(store.secure, guard), { maxPending: 1000, commitWithinMs });
  j.exportTo({ topic: (e) => (e.type.startsWith('alert:') ? `evt/alert` : undefined), bounds: { maxMessages: 1000, maxBytes: 1e7 } });
  return { j, file, store, outbox };
}

let n = 0;
const ev = (type: string, data: Record<string, unknown> = {}): EventEnvelope => ({ v: 1, id: `e${++n}`, type, source: 'test', time: new Date().toISOString(), data, depth: 0 });

/** what another process would read from the file now */
function onDisk(file: string): { events: string[]; outbox: Array<[string, string]> } {
  const db = new Database(file, { readonly: true });
  try {
    const events = (db.prepare('SELECT id FROM events ORDER BY seq').all() as Array<{ id: string }>).map((r) => r.id);
    const outbox = (db.prepare('SELECT topic, payload FROM fleet_outbox ORDER BY seq').all() as Array<{ topic: string; payload: string }>).map((r): [string, string] => [r.topic, r.topic === 'evt/alert' ? (JSON.parse(r.payload) as { id: string }).id : r.payload]);
    return { events, outbox };
  } finally {
    db.close();
  }
}

describe('event journal', () => {
  it('an acknowledged event is in the file when durable() resolves, and not before; the rest waits for flush()', async () => {
    const { j, file } = journal();
    const quiet = ev('test:background');
    j.record(quiet);
    // no one waits for it: it waits for the daemon's once-a-second flush
    await new Promise((r) => setTimeout(r, 20));
    expect(onDisk(file).events).toEqual([]);
    const loud = ev('alert:door');
    j.record(loud);
    const done = j.durable();
    expect(onDisk(file).events).toEqual([]);
    await done;
    // everything before it too, in order; the exported one also in the outbox
    expect(onDisk(file)).toEqual({ events: [quiet.id, loud.id], outbox: [['evt/alert', loud.id]] });
  });

  it('a burst of acknowledged events shares one commit', async () => {
    const { j, file } = journal(5);
    const ids: string[] = [];
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) {
      const e = ev('alert:burst', { i });
      ids.push(e.id);
      j.record(e);
      waits.push(j.durable());
    }
    await Promise.all(waits);
    expect(j.commits).toBe(1);
    expect(onDisk(file).events).toEqual(ids);
    expect(onDisk(file).outbox.map((r) => r[1])).toEqual(ids);
  });

  it('keeps the order of events and publishes across commits: a cause before its effects', async () => {
    const { j, file } = journal();
    const cause = ev('alert:server_down');
    j.record(cause);
    const fired = ev('rules:fired', { event: cause.id });
    j.record(fired);
    j.publish('pub/alerts/door', '"published by the rule"');
    const spawned = ev('alert:spawned_after');
    j.record(spawned);
    await j.durable();
    const later = ev('alert:later');
    j.record(later);
    j.flush();
    expect(onDisk(file).events).toEqual([cause.id, fired.id, spawned.id, later.id]);
    expect(onDisk(file).outbox).toEqual([
      ['evt/alert', cause.id],
      ['pub/alerts/door', '"published by the rule"'],
      ['evt/alert', spawned.id],
      ['evt/alert', later.id],
    ]);
  });

  it('a disk that refuses the commit fails every waiter with OSZ_E_STORE_IO and loses nothing it can hold', async () => {
    const { j, file, store, outbox } = journal();
    j.record(ev('alert:first'));
    await j.durable();
    const pages = store.secure.pragma('page_count', { simple: true }) as number;
    // SQLITE_FULL for this connection: the file may not grow
    store.secure.pragma(`max_page_count = ${pages}`);
    const big = 'x'.repeat(64 * 1024);
    const held = [ev('alert:a', { big }), ev('alert:b', { big })];
    for (const e of held) j.record(e);
    await expect(j.durable()).rejects.toMatchObject({ code: 'OSZ_E_STORE_IO' });
    expect(onDisk(file).events).toHaveLength(1);
    store.secure.pragma('max_page_count = 1073741823');
    const after = ev('alert:c');
    j.record(after);
    await j.durable();
    expect(onDisk(file).events.slice(1)).toEqual([...held.map((e) => e.id), after.id]);
    // the outbox's totals were read again after the rollback
    expect(outbox.stats().messages).toBe(4);
    expect(j.dropped).toBe(0);
  });
});
