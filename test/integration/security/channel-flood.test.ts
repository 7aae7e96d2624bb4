/**
 * Floods over the agent channel are paused, not only capped (issue 16), under the daemon as
 * shipped: a process agent writing `log` calls straight to fd 3 in a loop that never yields, one
 * writing valid JSON-RPC that asks for nothing (responses to calls never made), and a worker agent
 * flooding console.log. For each: the daemon's CPU over a window stays a small share of a core,
 * the flooder's own count of completed writes stays within the channel budget times the time
 * (plus what the kernel's and the runtimes' buffers hold), a well-behaved agent alongside still
 * gets its timer events and its log lines and events through, and /healthz answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ControlClient } from '../../../runtime/cli/client';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { FIXTURES, waitFor } from '../../helpers/tmp';

const LINES_PER_SECOND = 100;
const MESSAGES_PER_SECOND = 200;
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux
/**
 * What a flooder may have written beyond what the daemon handled: the socket's kernel buffer, the
 * chunk the daemon's reader holds, and for a worker its stdout buffer and the host's socket.
 * Generous: 1 MiB, in lines of the flood's size. Unthrottled, each flooder writes that in well
 * under a second.
 */
const SLACK_BYTES = 1024 * 1024;
/** supervisor.channel.unreadBytes for this suite */
const UNREAD_BYTES = 256 * 1024;

let d: RunningDaemon;

/** utime + stime of a process, in seconds */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const lastWord = (s: string): string => s.trim().split(' ').pop() ?? '';
const logOf = (id: string): string => {
  const file = path.join(d.home, 'logs', `${id}.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
};
const countOf = (agent: string): number => {
  const file = path.join(d.home, 'data', agent, 'count');
  return fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0;
};
const steadyLines = (id: string): number => logOf(id).split('\n').filter((l) => / agent info steady \d+$/.test(l)).length;

interface Flood {
  agent: string;
  env?: string[];
  /** bytes of one flood line, for the slack */
  lineBytes: number;
}

/** Runs `flood` beside the steady agent and measures a window of 40 steady ticks (~4 s). */
async function measure(f: Flood): Promise<string> {
  const steady = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/steady')])).stdout);
  const spawnedAt = performance.now();
  const spawned = await d.cli(['spawn', path.join(FIXTURES, 'agents', f.agent), ...(f.env ?? []).flatMap((e) => ['--env', e])]);
  expect(spawned.code, spawned.stderr).toBe(0);
  const id = lastWord(spawned.stdout);
  try {
    await waitFor('the flood to start', () => countOf(f.agent) > 0, 30_000);
    const daemonPid = d.proc.pid ?? 0;
    const before = { t: performance.now(), cpu: cpuSeconds(daemonPid), steady: steadyLines(steady) };
    await waitFor('40 more steady ticks in the log', () => steadyLines(steady) >= before.steady + 40, 60_000, 100);
    const health = await fetch(`http://${d.http}/healthz`);
    expect(health.status).toBe(200);
    const after = { t: performance.now(), cpu: cpuSeconds(daemonPid) };
    const seconds = (after.t - before.t) / 1000;
    const share = (after.cpu - before.cpu) / seconds;
    const written = countOf(f.agent);
    const elapsed = (performance.now() - spawnedAt) / 1000;
    const bound = 2 * MESSAGES_PER_SECOND + Math.ceil(MESSAGES_PER_SECOND * elapsed) + Math.ceil(SLACK_BYTES / f.lineBytes);
    console.log(`${f.agent} ${f.env?.join(' ') ?? ''}: window ${seconds.toFixed(1)} s, daemon ${(share * 100).toFixed(1)} % of a core; the flooder wrote ${written} lines in ${elapsed.toFixed(1)} s (bound ${bound})`);
    expect(share).toBeLessThan(0.15);
    expect(written).toBeLessThanOrEqual(bound);

    // the well-behaved agent got its events, its lines and its emits through, and is running
    const ps = await d.json<Array<{ instance: string; state: string }>>(['ps']);
    expect(ps.find((p) => p.instance === steady)?.state).toBe('running');
    expect(ps.find((p) => p.instance === id)?.state).toBe('running');
    const ticks = await d.json<Array<{ source: string }>>(['events', 'tail', '--type', 'steady:tick', '-n', '1000']);
    expect(ticks.filter((e) => e.source.endsWith(`/${steady}`)).length).toBeGreaterThanOrEqual(before.steady + 40);
    return id;
  } finally {
    await d.cli(['kill', id, '--signal', 'SIGKILL']);
    await d.cli(['kill', steady, '--signal', 'SIGKILL']);
  }
}

describeShipped('agent channel floods', () => {
  beforeAll(async () => {
    d = await startDaemon({
      asShipped: true,
      config: { logs: { outputLinesPerSecond: LINES_PER_SECOND, outputBytesPerSecond: 64 * 1024 }, supervisor: { channel: { messagesPerSecond: MESSAGES_PER_SECOND, bytesPerSecond: 1024 * 1024, unreadBytes: UNREAD_BYTES } } },
    });
  });
  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
  });

  it('holds a process agent writing log calls to fd 3 in a loop that never yields', async () => {
    const startedAt = performance.now();
    const id = await measure({ agent: 'chanflood', env: ['FLOOD=log'], lineBytes: 70 });
    // its log calls got through at the output cap's rate: waiting, mostly not dropped
    const kept = logOf(id).split('\n').filter((l) => / agent info flood \d+$/.test(l)).length;
    expect(kept).toBeGreaterThan(LINES_PER_SECOND);
    expect(kept).toBeLessThanOrEqual(2 * LINES_PER_SECOND + Math.ceil((LINES_PER_SECOND * (performance.now() - startedAt)) / 1000));
  }, 180_000);

  it('holds a process agent writing valid JSON-RPC that asks for nothing, and says so', async () => {
    const id = await measure({ agent: 'chanflood', env: ['FLOOD=junk'], lineBytes: 60 });
    expect(logOf(id)).toMatch(/daemon warn protocol: the agent sends more than supervisor\.channel\.messagesPerSecond \(200\)/);
  }, 180_000);

  it('drops the events of an agent that stops reading its channel, instead of holding them', async () => {
    const id = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/deaf')])).stdout);
    const client = await ControlClient.connect(d.socket);
    await waitFor(`${id} running`, async () => (await d.json<Array<{ instance: string; state: string }>>(['ps'])).some((p) => p.instance === id && p.state === 'running'));
    await client.call('events.emit', { type: 'flood:start', data: {} });
    await waitFor('the agent stopped reading', () => logOf(id).includes('deaf: not reading fd 3'));
    const EVENTS = 200;
    const EVENT_BYTES = 30_000;
    try {
      // 6 MB of events for it: without the limit the daemon would hold them all in its socket buffer
      for (let i = 0; i < EVENTS; i++) await client.call('events.emit', { type: 'flood:big', data: { i, pad: 'x'.repeat(EVENT_BYTES) } });
      await waitFor('the drop said in its log', () => /daemon warn protocol: the agent is not reading its channel \(over supervisor\.channel\.unreadBytes, 262144 bytes, unread\)/.test(logOf(id)));
      expect((await d.cli(['signal', id, 'USR2'])).code).toBe(0);
      await waitFor('the agent reads again', () => logOf(id).includes('deaf: reading again'));
      await client.call('events.emit', { type: 'flood:done', data: {} });
      const line = await waitFor('its count', () => /deaf: got (\d+)/.exec(logOf(id)) ?? undefined);
      const got = Number(line[1]);
      // what it got: at most what the daemon held (the limit) and the socket's kernel buffers held
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThan(Math.ceil((UNREAD_BYTES + SLACK_BYTES) / EVENT_BYTES));
      expect(got).toBeLessThan(EVENTS);
      // heartbeats still went out: the agent was not stopped for them, nor for the events
      const ps = await d.json<Array<{ instance: string; state: string }>>(['ps']);
      expect(ps.find((p) => p.instance === id)?.state).toBe('running');
    } finally {
      client.close();
      await d.cli(['kill', id, '--signal', 'SIGKILL']);
    }
  }, 120_000);

  it('holds a worker agent flooding console.log', async () => {
    await measure({ agent: 'wconflood', lineBytes: 100 });
  }, 180_000);

  it('ends a worker agent whose log() loop piles messages up in its host, and the daemon stays idle meanwhile', async () => {
    // a worker's postMessage never blocks: it cannot be slowed, only ended
    const daemonPid = d.proc.pid ?? 0;
    const before = { t: performance.now(), cpu: cpuSeconds(daemonPid) };
    const id = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/wlogflood')])).stdout);
    try {
      const gone = await waitFor('the worker ended', async () => {
        const ps = await d.json<Array<{ instance: string; state: string; reason: string | null }>>(['ps', '--all']);
        const row = ps.find((p) => p.instance === id);
        return row && row.state !== 'running' && row.state !== 'starting' ? row : undefined;
      }, 60_000, 200);
      // whichever comes first: the host's queue for it past 8 MiB, or the host's RSS past the
      // instance's limit (the worker posts faster than the host takes its messages off the port)
      expect(gone.reason ?? '').toMatch(/^(flood: over 8388608 bytes of protocol messages waiting while the daemon held its channel|memory limit: agent host \d+ RSS)/);
      const seconds = (performance.now() - before.t) / 1000;
      const share = (cpuSeconds(daemonPid) - before.cpu) / seconds;
      console.log(`wlogflood: ended after ${seconds.toFixed(1)} s, daemon ${(share * 100).toFixed(1)} % of a core meanwhile`);
      expect(share).toBeLessThan(0.15);
      expect((await fetch(`http://${d.http}/healthz`)).status).toBe(200);
    } finally {
      await d.cli(['kill', id, '--signal', 'SIGKILL']);
    }
  }, 120_000);
});
