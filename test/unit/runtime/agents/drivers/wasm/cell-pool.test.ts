/**
 * Cells hand the memory of guests that left back to the OS (issue 16): V8 keeps a freed
 * WebAssembly.Memory mapped until its thread collects garbage, so a cell is ended (empty) or
 * retired and restarted (mates re-hosted) once the memory that left it is large. Real cells.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../../../helpers/tmp';
import { ECHO_BODY, wasmAgent } from '../../../../../helpers/wasm';
import { EMITS, event, newDriver, run } from './harness';

/** Grows its memory as far as the host lets it on any event, then says how many pages it has. */
const hog = (id: string, memoryMb: number, isolation: 'shared' | 'dedicated' = 'shared'): Promise<string> =>
  wasmAgent({
    id,
    memory: '1 4096',
    body: `(data (i32.const 16) "grown")
      (func (export "init"))
      (func (export "on_event") (param i32 i32)
        (block $done (loop $l (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $l)))
        (call $log (i32.const 1) (i32.const 16) (i32.const 5)))`,
    manifest: { runtime: { module: 'agent.wasm', isolation }, limits: { memoryMb } },
  });

/** Echoes events back, pushes a snapshot at init and logs what `restore` hands it. */
const mateAgent = (): Promise<string> =>
  wasmAgent({
    id: 'wrmate',
    body: `${ECHO_BODY.replace('(func (export "init"))', '')}
      (data (i32.const 32) "{\\"kept\\":1}") (data (i32.const 48) "restored")
      (func (export "init") (drop (call $snapshot_set (i32.const 32) (i32.const 10))))
      (func (export "restore") (param i32 i32) (call $log (i32.const 1) (i32.const 48) (i32.const 8)))`,
    manifest: EMITS,
  });

describe('wasm cell recycling', () => {
  it('ends an empty cell at once when the guest that left had a large memory', async () => {
    const d = newDriver();
    const h = await run(d, await hog('wrhog1', 32, 'dedicated'));
    h.agent.channel.send(event('x:grow'));
    await waitFor('grown', () => h.logs.includes('grown'));
    await waitFor('usage', () => h.agent.usage?.()?.rssBytes === 32 * 1048576);
    expect(d.stats()).toMatchObject({ cells: 1, recycled: 0 });
    h.agent.signal('SIGKILL');
    await h.agent.exited;
    // recycled, not left to the idle linger (10 s, which would not count as recycled)
    await waitFor('cell ended', () => d.stats().recycled === 1);
    expect(d.stats()).toMatchObject({ cells: 0, guests: 0 });
  });

  it('retires a shared cell whose departed memory outweighs its live guests; the mate is re-hosted and loses no event', async () => {
    const d = newDriver();
    const mate = await run(d, await mateAgent());
    const h = await run(d, await hog('wrhog2', 32));
    expect(d.stats()).toMatchObject({ cells: 1, guests: 2 });
    h.agent.channel.send(event('x:grow'));
    await waitFor('grown', () => h.logs.includes('grown'));
    h.agent.signal('SIGKILL');
    // sent while the cell retires: each must arrive exactly once, in order
    for (let i = 0; i < 5; i++) mate.agent.channel.send(event('x:after', { i }));
    await h.agent.exited;
    // (a guest that pushes a snapshot in init is handed it by restore at once, so: the second one)
    await waitFor('mate re-hosted', () => mate.logs.filter((l) => l === 'restored').length === 2);
    await waitFor('events delivered', () => mate.emits.length >= 5);
    expect(mate.emits.map((e) => (e.data as { data: { i: number } }).data.i)).toEqual([0, 1, 2, 3, 4]);
    expect(mate.out.join('\n')).toMatch(/cell restarted because it was recycled to return 32 MB of memory of agents that left to the OS; this instance was re-hosted from its last snapshot/);
    expect(d.stats()).toMatchObject({ cells: 1, guests: 1, recycled: 1, restarts: 0 });
    // the re-hosted mate keeps working
    mate.agent.channel.send(event('x:later', { i: 5 }));
    await waitFor('echo after', () => mate.emits.length === 6);
  });

  it('leaves a cell alone when the guest that left was small', async () => {
    const d = newDriver();
    const mate = await run(d, await mateAgent());
    const small = await run(d, await wasmAgent({ id: 'wrsmall', body: ECHO_BODY }));
    small.agent.signal('SIGKILL');
    await small.agent.exited;
    // the cell handles the drop before this event, so its report of the departed memory came first
    mate.agent.channel.send(event('x:ping', { i: 0 }));
    await waitFor('echo', () => mate.emits.length === 1);
    expect(d.stats()).toMatchObject({ cells: 1, guests: 1, recycled: 0 });
    expect(mate.out.join('\n')).not.toContain('cell restarted');
  });
});
