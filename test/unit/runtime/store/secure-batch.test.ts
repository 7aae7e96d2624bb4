/**
 * The synchronous=FULL writes: remote command counters and nonces, and audit rows, committed in one
 * transaction per turn of the event loop (or at once, for a mutating command).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../../runtime/log';
import { createStore } from '../../../../runtime/store/store';
import { RESERVE_WITHIN_MS } from '../../../../runtime/store/commands-repo';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const rowsIn = (file: string, table: string): number => {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  db.close();
  return n;
};

describe('secure writes', () => {
  it('a reserved counter and nonce are refused again at once and reach the disk within RESERVE_WITHIN_MS', async () => {
    const file = path.join(tmpDir(), 's.db');
    const s = createStore(file, memoryLogger(), { keepEvents: 10 });
    const now = Date.now();
    s.commands.reserve('ops', 1000, 'nonce-aaaa', now + 60_000, now);
    expect(s.commands.lastTs('ops')).toBe(1000);
    expect(s.commands.nonceSeen('ops', 'nonce-aaaa')).toBe(true);
    expect(s.commands.nonceSeen('other', 'nonce-aaaa')).toBe(false);
    expect(rowsIn(file, 'command_nonces')).toBe(0);
    await turn();
    // a read-only command's counter may wait a little to share an fsync
    await waitFor('the commit', () => rowsIn(file, 'command_nonces') === 1, RESERVE_WITHIN_MS * 20);
    s.close();
    const again = createStore(file, memoryLogger(), { keepEvents: 10 });
    expect(again.commands.lastTs('ops')).toBe(1000);
    expect(again.commands.nonceSeen('ops', 'nonce-aaaa')).toBe(true);
    again.close();
  });

  it('accept is on disk before it returns; a counter never goes back', () => {
    const file = path.join(tmpDir(), 's.db');
    const s = createStore(file, memoryLogger(), { keepEvents: 10 });
    const now = Date.now();
    s.commands.accept('ops', 2000, 'nonce-bbbb', now + 60_000, now);
    expect(rowsIn(file, 'issuer_counters')).toBe(1);
    // two reservations in one turn, the later one first: the stored counter is the highest
    s.commands.reserve('ops', 3000, 'nonce-cccc', now + 60_000, now);
    s.commands.accept('ops', 2500, 'nonce-dddd', now + 60_000, now);
    s.close();
    const again = createStore(file, memoryLogger(), { keepEvents: 10 });
    expect(again.commands.lastTs('ops')).toBe(3000);
    again.close();
  });

  it('expired nonces are forgotten; audit rows of one turn are one transaction and readable at once', async () => {
    const file = path.join(tmpDir(), 's.db');
    const s = createStore(file, memoryLogger(), { keepEvents: 10 });
    const now = Date.now();
    s.commands.accept('ops', 1, 'nonce-old1', now - 1, now - 10);
    s.commands.accept('ops', 2, 'nonce-new1', now + 60_000, now);
    expect(s.commands.nonceSeen('ops', 'nonce-old1')).toBe(false);
    const before = rowsIn(file, 'audit');
    for (let i = 0; i < 50; i++) s.audit.append({ ts: now, actor: 'test', op: `op.${i}`, params: {}, outcome: 'ok' });
    // queued for the turn's one transaction, not written row by row
    expect(rowsIn(file, 'audit') - before).toBe(0);
    await turn();
    expect(rowsIn(file, 'audit') - before).toBe(50);
    s.audit.append({ ts: now, actor: 'test', op: 'op.last', params: {}, outcome: 'ok' });
    // a reader sees its own writes
    expect(s.audit.recent(60)).toHaveLength(51);
    expect(rowsIn(file, 'audit') - before).toBe(51);
    s.close();
  });
});
