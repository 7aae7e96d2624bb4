/** Record a HAL trace on the sim board with the CLI, replay it on another daemon: agents see the same readings in the same order. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrace } from '../../hal/trace';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

const daemons: RunningDaemon[] = [];
afterAll(async () => {
  for (const d of daemons) expect(await d.stop()).toBe(0);
});

describe('HAL record and replay', () => {
  it('records readings to a trace file and replays them to agents in order', async () => {
    const a = await startDaemon();
    daemons.push(a);
    const file = path.join(tmpDir('osd-trace-'), 'greenhouse.trace');
    const rec = await a.cli(['hal', 'record', file, '--for', '5']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout).toMatch(/recorded \d+ events to/);
    const trace = parseTrace(fs.readFileSync(file, 'utf8'), file);
    expect(trace.header.board).toBe('sim');
    const recorded = trace.events.filter((e) => e.type === 'hal:sensor.temperature').map((e) => e.data.value as number);
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    expect(trace.events.some((e) => e.type === 'hal:sensor.humidity')).toBe(true);

    const b = await startDaemon({ args: ['--replay', file] });
    daemons.push(b);
    expect(b.output.join('\n')).toMatch(/replaying \d+ events recorded on sim/);
    const s = await b.cli(['spawn', path.join(FIXTURES, 'agents/tlogger')]);
    const inst = s.stdout.trim().split(/\s+/).pop() ?? '';
    await waitFor('replay finished', () => b.output.some((l) => l.includes('finished')), 20_000);
    const seen = await waitFor('agent saw readings', async () => {
      const got = ((await b.cli(['logs', inst])).stdout.match(/ T (-?[\d.]+)/g) ?? []).map((x) => Number(x.slice(3)));
      return got.length >= 2 ? got : undefined;
    });
    // what the agent saw is a run of the recorded sequence, in order
    const start = recorded.indexOf(seen[0] ?? Number.NaN);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(seen).toEqual(recorded.slice(start, start + seen.length));
    const read = await b.json<{ value: number }>(['hal', 'read', 'temperature']);
    expect(read.value).toBe(recorded.at(-1));
  }, 60_000);

  it('refuses a broken trace at start with the line that is wrong', async () => {
    const file = path.join(tmpDir('osd-trace-bad-'), 'bad.trace');
    fs.writeFileSync(file, `${JSON.stringify({ v: 1, kind: 'openstarry.hal-trace', board: 'sim', started: 1 })}\n{"t":5,"type":"hal:sensor.temperature","data":{"value":"hot"}}\n`);
    await expect(startDaemon({ args: ['--replay', file] })).rejects.toThrow(/bad.trace:2: a sensor event needs a finite numeric data.value/);
  });
});
