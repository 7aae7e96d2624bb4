/**
 * A guest looping on host functions cannot flood the daemon's main thread (issue 16): a WASM
 * agent's messages come over a MessagePort, which cannot be left unread, so the cell bounds what
 * a guest posts. Here one call makes 100,000 rounds of tokens, snapshot_set, timer_set and a
 * refused emit; the main thread gets a few hundred messages for them, and the token count whole.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../../../helpers/tmp';
import { wasmAgent } from '../../../../../helpers/wasm';
import { event, newDriver, run } from './harness';

const ROUNDS = 100_000;

describe('wasm guest floods', () => {
  it('coalesces tokens and snapshots, caps timer calls in flight, and says refusals at most once a second', async () => {
    const folder = await wasmAgent({
      id: 'whostflood',
      imports: '(import "openstarry" "tokens" (func $tokens (param i32)))',
      body: `
        (data (i32.const 16) "{}") (data (i32.const 32) "t") (data (i32.const 48) "nope:x") (data (i32.const 64) "done")
        (global $rate_limited (mut i32) (i32.const 0))
        (func (export "init"))
        (func (export "on_event") (param i32 i32) (local $i i32)
          (loop $l
            (call $tokens (i32.const 1))
            (drop (call $snapshot_set (i32.const 16) (i32.const 2)))
            (if (i32.eq (call $timer_set (i32.const 32) (i32.const 1) (i32.const 60000) (i32.const 0)) (i32.const -7))
              (then (global.set $rate_limited (i32.add (global.get $rate_limited) (i32.const 1)))))
            (drop (call $emit (i32.const 48) (i32.const 6) (i32.const 0) (i32.const 0)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const ${ROUNDS}))))
          ;; every timer call past the requests in flight was refused with OSZ_E_RATE_LIMITED
          (if (i32.lt_u (global.get $rate_limited) (i32.const ${ROUNDS - 10_000})) (then unreachable))
          (call $log (i32.const 1) (i32.const 64) (i32.const 4)))`,
      manifest: { limits: { callTimeoutMs: 30_000 } },
    });
    const r = await run(newDriver(), folder);
    const seen = { messages: 0, tokens: 0, tokenMessages: 0, timerSets: 0 };
    r.agent.channel.onMessage((m) => {
      seen.messages++;
      const msg = m as { method?: string; params?: { n?: number } };
      if (msg.method === 'tokens') {
        seen.tokenMessages++;
        seen.tokens += msg.params?.n ?? 0;
      }
      if (msg.method === 'timer.set') seen.timerSets++;
    });
    const started = performance.now();
    r.agent.channel.send(event('go:flood'));
    // the last tokens go out as the call ends, just after its last log line: wait for both
    await waitFor('the loop to end and its tokens', () => r.logs.includes('done') && seen.tokens === ROUNDS, 30_000);
    const seconds = (performance.now() - started) / 1000;
    // one at the end of the call, plus one every 200 ms during it
    expect(seen.tokenMessages).toBeLessThanOrEqual(2 + Math.ceil(seconds * 5));
    // requests in flight are capped at 256, and answered only between calls: one call, 256 at most
    expect(seen.timerSets).toBeLessThanOrEqual(256);
    const refusals = r.out.filter((l) => l.includes('emit "nope:x" refused'));
    expect(refusals.length).toBeLessThanOrEqual(20 + Math.ceil(seconds) + 1);
    expect(seen.messages).toBeLessThan(ROUNDS / 10);
    // the snapshot still reaches the driver: agent.snapshot is answered from it
    expect(await r.peer.call('agent.snapshot', undefined, 5000)).toEqual({});
  });
});
