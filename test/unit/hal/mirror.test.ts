import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MirrorReader, SensorMirror } from '../../../hal/mirror';

describe('sensor mirror', () => {
  it('serves the latest reading per type, and nothing for unknown or unread types', () => {
    const m = new SensorMirror(['temperature', 'humidity']);
    const r = new MirrorReader(m.layout());
    expect(r.read('temperature')).toBeUndefined();
    m.write('temperature', 21.5, 1000);
    m.write('temperature', 22.25, 2000);
    expect(r.read('temperature')).toEqual({ value: 22.25, ts: 2000 });
    expect(r.read('humidity')).toBeUndefined();
    expect(r.read('radiation')).toBeUndefined();
    m.write('radiation', 1, 1);
  });

  it('never shows a torn value to a reader in another thread', async () => {
    const m = new SensorMirror(['t']);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const seq = new Int32Array(workerData.buffer, 0, 1);
      const data = new Float64Array(workerData.buffer, 8, 2);
      let reads = 0, torn = 0;
      const until = Date.now() + 300;
      while (Date.now() < until) {
        const before = Atomics.load(seq, 0);
        if (before & 1) continue;
        const v = data[0], ts = data[1];
        if (Atomics.load(seq, 0) !== before) continue;
        if (!Number.isNaN(ts)) { reads++; if (v !== ts / 1000) torn++; }
      }
      parentPort.postMessage({ reads, torn });
    `;
    const w = new Worker(code, { eval: true, workerData: { buffer: m.buffer } });
    const result = new Promise<{ reads: number; torn: number }>((resolve) => w.once('message', resolve));
    const until = Date.now() + 300;
    let ts = 0;
    while (Date.now() < until) {
      ts += 1000;
      m.write('t', ts / 1000, ts);
      if (ts % 100_000 === 0) await new Promise((r) => setImmediate(r));
    }
    const { reads, torn } = await result;
    await w.terminate();
    expect(reads).toBeGreaterThan(100);
    expect(torn).toBe(0);
  });
});
