/**
 * HAL traces (DESIGN §5): what `openstarryctl hal record` writes on a real board and the sim board
 * replays (`--board sim --replay FILE`), so agents can be tested off-device against real data.
 *
 * NDJSON: a header `{"v":1,"kind":"openstarry.hal-trace","board":"…","started":<unix ms>}`, then
 * one event per line `{"t":<ms since start>,"type":"hal:sensor.temperature","data":{…}}` in time
 * order. Replay feeds back sensor readings (`hal:sensor.*`) and GPIO input edges (`hal:gpio.*`,
 * by driving the simulated line, so debouncing and events run as live); actuator changes
 * (`hal:actuator.*`) are kept for the record.
 */
import { HalError } from './errors';

export const TRACE_KIND = 'openstarry.hal-trace';
export const MAX_TRACE_BYTES = 64 * 1024 * 1024;
const MAX_LINE = 64 * 1024;
const TYPE = /^hal:(sensor|gpio|actuator)\.[a-z0-9_-]{1,64}$/;

export interface TraceHeader {
  v: 1;
  kind: typeof TRACE_KIND;
  board: string;
  started: number;
}

export interface TraceEvent {
  t: number;
  type: string;
  data: Record<string, unknown>;
}

export function traceHeader(board: string, started: number): string {
  return JSON.stringify({ v: 1, kind: TRACE_KIND, board, started } satisfies TraceHeader);
}

export function traceLine(e: TraceEvent): string {
  return JSON.stringify(e);
}

/** Parses a whole trace; every problem names its line. */
export function parseTrace(text: string, source = 'trace'): { header: TraceHeader; events: TraceEvent[] } {
  const bad = (line: number, why: string): never => {
    throw new HalError('HAL_E_PROFILE', `${source}:${line}: ${why}`, { source, line });
  };
  if (text.length > MAX_TRACE_BYTES) bad(1, `the trace is over ${MAX_TRACE_BYTES} bytes`);
  const lines = text.split('\n');
  const parse = (n: number): unknown => {
    const l = lines[n - 1] ?? '';
    if (l.length > MAX_LINE) bad(n, `line over ${MAX_LINE} bytes`);
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return bad(n, 'not JSON');
    }
  };
  const h = parse(1) as Partial<TraceHeader> | null;
  if (!h || typeof h !== 'object' || h.kind !== TRACE_KIND || h.v !== 1) bad(1, `not an ${TRACE_KIND} v1 header`);
  if (typeof h?.board !== 'string' || typeof h.started !== 'number' || !Number.isFinite(h.started)) bad(1, 'the header needs board and started');
  const events: TraceEvent[] = [];
  let last = 0;
  for (let n = 2; n <= lines.length; n++) {
    if ((lines[n - 1] ?? '').trim() === '') continue;
    const e = parse(n) as Partial<TraceEvent> | null;
    if (!e || typeof e !== 'object' || Array.isArray(e)) bad(n, 'an event must be an object');
    const ev = e as Partial<TraceEvent>;
    if (typeof ev.t !== 'number' || !Number.isFinite(ev.t) || ev.t < 0) bad(n, 't must be milliseconds since the start');
    if ((ev.t ?? 0) < last) bad(n, `t goes back in time (${ev.t} after ${last})`);
    if (typeof ev.type !== 'string' || !TYPE.test(ev.type)) bad(n, `type "${String(ev.type).slice(0, 80)}" is not a hal:sensor/gpio/actuator event`);
    if (!ev.data || typeof ev.data !== 'object' || Array.isArray(ev.data)) bad(n, 'data must be an object');
    if (ev.type?.startsWith('hal:sensor.') && (typeof ev.data?.value !== 'number' || !Number.isFinite(ev.data.value))) bad(n, 'a sensor event needs a finite numeric data.value');
    last = ev.t ?? last;
    events.push({ t: ev.t ?? 0, type: ev.type ?? '', data: ev.data ?? {} });
  }
  return { header: h as TraceHeader, events };
}

export interface ReplayFeed {
  /** a sensor reading: `type` as in hal:sensor.<type> */
  reading(type: string, value: number): void;
  /** a GPIO input's edge: its device and logical value */
  edge(deviceId: string, value: 0 | 1): void;
}

/** Plays a trace's readings and input edges at their times; returns a stop function. */
export function replayTrace(events: readonly TraceEvent[], feed: ReplayFeed, opts: { onEnd?(): void } = {}): () => void {
  const timers: NodeJS.Timeout[] = [];
  const played = events.filter((e) => e.type.startsWith('hal:sensor.') || (e.type.startsWith('hal:gpio.') && typeof e.data.deviceId === 'string'));
  played.forEach((e, i) => {
    timers.push(
      setTimeout(() => {
        if (e.type.startsWith('hal:sensor.')) feed.reading(e.type.slice('hal:sensor.'.length), e.data.value as number);
        else feed.edge(e.data.deviceId as string, e.data.value ? 1 : 0);
        if (i === played.length - 1) opts.onEnd?.();
      }, e.t),
    );
  });
  if (played.length === 0) opts.onEnd?.();
  return () => timers.forEach((t) => clearTimeout(t));
}
