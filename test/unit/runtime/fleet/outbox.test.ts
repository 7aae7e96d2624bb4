/** The fleet outbox in a real SQLite file: bounded by rows and bytes, oldest dropped and counted, drained in order, kicked by each commit. */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetOutbox } from '../../../../runtime/fleet/outbox';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import Database from 'better-sqlite3';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));
const store = (file = path.join(tmpDir('osd-outbox-'), 'db')): Store => {
  const s = createStore(file, memoryLogger(), { keepEvents: 100 });
  stores.push(s);
  return s;
};

describe('fleet outbox', () => {
  it('drops the oldest beyond its row and byte bounds, and counts them', () => {
    const s = store();
    const rows = (n: number, size = 10): Array<{ topic: string; payload: string }> => Array.from({ length: n }, (_, i) => ({ topic: 't', payload: `${i}`.padEnd(size, '.') }));
    expect(s.outbox.append(rows(12), { maxMessages: 10, maxBytes: 1e6 })).toBe(2);
    expect(s.outbox.next(0, 100).map((r) => r.payload.replace(/\.+$/, ''))).toEqual(['2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect(s.outbox.append(rows(1, 50), { maxMessages: 100, maxBytes: 120 })).toBeGreaterThan(0);
    expect(s.outbox.stats().bytes).toBeLessThanOrEqual(120);
    expect(s.outbox.stats().dropped).toBeGreaterThan(2);
  });

  it('survives a restart, and drains in order only while the link is up, deleting what was acknowledged', async () => {
    const file = path.join(tmpDir('osd-outbox-'), 'db');
    const first = store(file);
    const offline = new FleetOutbox(first.outbox, first.journal, { connected: () => false, publish: () => Promise.reject(new Error('offline')) });
    for (let i = 0; i < 40; i++) offline.enqueue(`evt/${i % 3}`, String(i));
    // kill -9 now, with nothing else flushing: what was enqueued is on disk within commitWithinMs
    await first.journal.durable();
    const raw = new Database(file, { readonly: true });
    expect((raw.prepare('SELECT payload FROM fleet_outbox ORDER BY seq').all() as Array<{ payload: string }>).map((r) => Number(r.payload))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    raw.close();
    first.close();
    stores.pop();
    const second = store(file);
    const sent: number[] = [];
    let up = true;
    let failed = false;
    // the link drops while 25 is in flight (its batch of 16 is 16-31)
    const publish = (_t: string, p: string): Promise<void> => {
      if (Number(p) === 25 && !failed) {
        failed = true;
        up = false;
        return Promise.reject(new Error('dropped'));
      }
      sent.push(Number(p));
      return Promise.resolve();
    };
    const out = new FleetOutbox(second.outbox, second.journal, { connected: () => up, publish });
    await out.drain();
    expect(sent.slice(0, 25)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(sent).not.toContain(32);
    up = true;
    await out.drain();
    // at least once, in order except within the in-flight window at the drop
    expect([...new Set(sent)].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(sent.indexOf(25)).toBeLessThan(sent.indexOf(32));
    expect(second.outbox.stats().messages).toBe(0);
  });

  it('drains after every commit that added rows, without waiting for its tick', async () => {
    const s = store();
    const got: string[] = [];
    const out = new FleetOutbox(s.outbox, s.journal, { connected: () => true, publish: (t, p) => (got.push(`${t} ${p}`), Promise.resolve()) }, 3_600_000);
    out.start();
    try {
      s.journal.exportTo({ topic: (e) => (e.type.startsWith('alert:') ? `evt/alert` : undefined), bounds: { maxMessages: 100, maxBytes: 1e6 } });
      s.journal.record({ v: 1, id: 'a1', type: 'alert:x', source: 't', time: new Date().toISOString(), data: {}, depth: 0 });
      s.journal.record({ v: 1, id: 'n1', type: 'test:not_exported', source: 't', time: new Date().toISOString(), data: {}, depth: 0 });
      out.enqueue('pub/after', '"after a1"');
      await waitFor('both sent', () => got.length === 2);
      expect(got[0]).toMatch(/^evt\/alert \{.*"id":"a1"/);
      expect(got[1]).toBe('pub/after "after a1"');
      await waitFor('acknowledged rows deleted', () => s.outbox.stats().messages === 0);
    } finally {
      out.stop();
    }
  });
});
