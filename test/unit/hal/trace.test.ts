/** The trace parser on well-formed, malformed, oversized and hostile input, and the replay clock. */
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Hal } from '../../../hal/hal';
import { SimBoard } from '../../../hal/sim/board';
import { simReplayFeed } from '../../../hal/sim/replay';
import { loadProfile } from '../../../hal/profile/load';
import { REPO } from '../../helpers/tmp';
import { MAX_TRACE_BYTES, parseTrace, replayTrace, traceHeader, traceLine } from '../../../hal/trace';

const header = traceHeader('sim', 1_700_000_000_000);
const ev = (t: number, type = 'hal:sensor.temperature', data: Record<string, unknown> = { value: 21.5 }): string => traceLine({ t, type, data });
const err = (text: string): string => {
  try {
    parseTrace(text, 'x.trace');
  } catch (e) {
    return (e as Error).message;
  }
  return 'parsed';
};

describe('HAL traces', () => {
  it('parses a header and events in time order, blank lines allowed', () => {
    const t = parseTrace([header, ev(0), '', ev(1000, 'hal:gpio.button0', { value: 1 }), ev(1000, 'hal:actuator.fan', { state: 'on' }), ''].join('\n'));
    expect(t.header).toMatchObject({ board: 'sim', started: 1_700_000_000_000 });
    expect(t.events.map((e) => e.type)).toEqual(['hal:sensor.temperature', 'hal:gpio.button0', 'hal:actuator.fan']);
  });

  it('names the line of every problem', () => {
    expect(err('')).toBe('x.trace:1: not JSON');
    expect(err('{"v":2,"kind":"openstarry.hal-trace","board":"sim","started":1}')).toContain('x.trace:1: not an openstarry.hal-trace v1 header');
    expect(err(`${header}\nnot json`)).toBe('x.trace:2: not JSON');
    expect(err(`${header}\n[1,2]`)).toBe('x.trace:2: an event must be an object');
    expect(err(`${header}\n${ev(5)}\n${ev(4)}`)).toBe('x.trace:3: t goes back in time (4 after 5)');
    expect(err(`${header}\n${ev(-1)}`)).toContain('t must be milliseconds');
    expect(err(`${header}\n${ev(1, 'agent:evil')}`)).toContain('is not a hal:sensor/gpio/actuator event');
    expect(err(`${header}\n${ev(1, 'hal:sensor.temperature', { value: 'NaN' })}`)).toContain('finite numeric data.value');
    expect(err(`${header}\n{"t":1,"type":"hal:sensor.t","data":{"value":${'9'.repeat(400)}}}`)).toContain('finite numeric');
    expect(err(`${header}\n${'x'.repeat(70_000)}`)).toContain('line over');
    expect(err('x'.repeat(MAX_TRACE_BYTES + 1))).toContain('over');
    expect(err(`${header}\n{"t":1,"type":"hal:sensor.t","data":{"value":1},"__proto__":{"polluted":true}}`)).toBe('parsed');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('replays sensor readings and input edges at their times, in order', () => {
    vi.useFakeTimers();
    try {
      const got: Array<[string, number]> = [];
      let ended = false;
      const { events } = parseTrace([header, ev(0, 'hal:sensor.temperature', { value: 20 }), ev(500, 'hal:gpio.b', { deviceId: 'button', value: 1 }), ev(1000, 'hal:sensor.humidity', { value: 55 }), ev(2000, 'hal:sensor.temperature', { value: 21 })].join('\n'));
      replayTrace(events, { reading: (type, value) => got.push([type, value]), edge: (id, v) => got.push([`edge ${id}`, v]) }, { onEnd: () => (ended = true) });
      vi.advanceTimersByTime(999);
      expect(got).toEqual([['temperature', 20], ['edge button', 1]]);
      vi.advanceTimersByTime(1001);
      expect(got).toEqual([['temperature', 20], ['edge button', 1], ['humidity', 55], ['temperature', 21]]);
      expect(ended).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('replays a button edge on the sim board: the line is driven and the HAL reports the edge as live', async () => {
    const board = loadProfile('sim', [path.join(REPO, 'boards')]);
    const sim = new SimBoard(board);
    const events: string[] = [];
    const hal = new Hal(board, sim, { record: () => undefined }, { emit: (type, data) => events.push(`${type}=${String(data.value)}`) });
    await hal.start();
    const feed = simReplayFeed(hal, board, sim);
    feed.edge('button', 1);
    await new Promise((r) => setTimeout(r, 80)); // the button's debounce
    feed.edge('button', 0);
    await new Promise((r) => setTimeout(r, 80));
    expect(events.filter((e) => e.startsWith('hal:gpio.button0'))).toEqual(['hal:gpio.button0=1', 'hal:gpio.button0=0']);
    feed.reading('button', 1); // readings of a GPIO input are not replayed: its edges are
    feed.edge('nonexistent', 1);
    await hal.stop();
  });
});

