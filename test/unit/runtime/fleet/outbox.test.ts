/** The fleet outbox in a real SQLite file: bounded by rows and bytes, oldest dropped and counted, drained in order. */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetOutbox } from '../../../../runtime/fleet/outbox';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

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
    const offline = new FleetOutbox(first.outbox, { maxMessages: 100, maxBytes: 1e6 }, { connected: () => false, publish: () => Promise.reject(new Error('offline')) }, () => undefined);
    for (let i = 0; i < 40; i++) offline.enqueue(`evt/${i % 3}`, String(i));
    offline.tick();
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
    const out = new FleetOutbox(second.outbox, { maxMessages: 100, maxBytes: 1e6 }, { connected: () => up, publish }, () => undefined);
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
});
