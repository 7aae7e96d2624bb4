/**
 * The session under a flooding agent (issue 16), over the fake driver, whose channel holds what
 * the agent sends while it is paused: what the daemon handles stays within the instance's budget
 * (burst plus rate times the time), nothing is lost, requests are answered in order, and `log`
 * calls past the output cap wait instead of being dropped by the thousand.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelRates } from '../../../../runtime/agents/channel-budget';
import type { LaunchedAgent, LaunchSpec } from '../../../../runtime/agents/drivers/driver';
import { FakeDriver, type FakeAgentIO } from '../../../../runtime/agents/drivers/fake';
import { unavailableHal } from '../../../../runtime/agents/hal-port';
import { InstanceLogs } from '../../../../runtime/agents/logs';
import { validateManifest } from '../../../../runtime/agents/manifest';
import { AgentSession } from '../../../../runtime/agents/session';
import { EventBus } from '../../../../runtime/bus/bus';
import { memoryLogger } from '../../../../runtime/log';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const running: Array<{ agent: LaunchedAgent; session: AgentSession }> = [];
afterEach(() => {
  for (const r of running.splice(0)) {
    r.agent.signal('SIGKILL');
    r.session.dispose(new Error('test over'));
  }
});

interface Started {
  io: FakeAgentIO;
  logs: InstanceLogs;
  heartbeats: () => number;
  violations: string[];
}

/** A session over a fake agent that says hello, answers init, then runs `flood`. */
async function start(channel: ChannelRates, flood: (io: FakeAgentIO) => void, output?: { linesPerSecond: number; bytesPerSecond: number }): Promise<Started> {
  const dir = tmpDir('osd-session-');
  const logs = new InstanceLogs({ dir: path.join(dir, 'logs'), ringLines: 100_000, maxBytes: 10_000_000, files: 1, ...(output ? { output } : {}) });
  logs.open('i-1', [], 'flooder');
  const manifest = validateManifest({ identity: { id: 'flooder', name: 'flooder' }, runtime: { entry: 'main.mjs' } }, 'test');
  const spec: LaunchSpec = { instanceId: 'i-1', agentId: 'flooder', token: 't0ken', manifest, installDir: dir, dataDir: dir, plugins: [], env: {}, heartbeatMs: 60_000 };
  let io!: FakeAgentIO;
  const driver = new FakeDriver({
    flooder: async (agentIo) => {
      io = agentIo;
      agentIo.handle('agent.init', () => ({ ok: true }));
      await agentIo.peer.call('hello', { protocol: 1, instance: 'i-1', token: 't0ken' });
    },
  });
  const agent = await driver.launch(spec);
  let heartbeats = 0;
  const violations: string[] = [];
  const session = new AgentSession(spec, agent, {
    bus: new EventBus(memoryLogger()),
    hal: unavailableHal,
    logs,
    helloTimeoutMs: 2000,
    channel: { ...channel, unreadBytes: 4 * 1024 * 1024 },
    onViolation: (why) => violations.push(why),
    onHeartbeat: () => void heartbeats++,
    onHeld: () => undefined,
    onTokens: () => undefined,
  });
  running.push({ agent, session });
  await session.start();
  flood(io);
  return { io, logs, heartbeats: () => heartbeats, violations };
}

describe('agent session under a flood', () => {
  it('handles a flooding agent at its budget, loses nothing, and still answers its requests, in order', async () => {
    const RATE = 200;
    const N = 700;
    const answers: string[] = [];
    const started = performance.now();
    const s = await start({ messagesPerSecond: RATE, bytesPerSecond: 1024 * 1024 }, (io) => {
      for (let i = 0; i < N; i++) io.sendRaw({ jsonrpc: '2.0', method: 'heartbeat' });
      // a request behind the flood: answered once the flood before it is read
      void io.peer.call('timer.clear', { name: 'none' }).then((r) => answers.push(`${JSON.stringify(r)} after ${s.heartbeats()}`));
    });
    const bound = (): number => 2 * RATE + Math.ceil((RATE * (performance.now() - started)) / 1000) + 2;
    // while it floods, what was handled never runs ahead of the budget
    await waitFor('half the flood', () => {
      expect(s.heartbeats()).toBeLessThanOrEqual(bound());
      return s.heartbeats() >= N / 2;
    }, 20_000, 20);
    expect(s.heartbeats()).toBeLessThan(N);
    await waitFor('the whole flood and the answer', () => answers.length === 1, 20_000, 20);
    expect(s.heartbeats()).toBe(N);
    expect(answers).toEqual([`{"cleared":false} after ${N}`]);
    expect(s.violations).toEqual([]);
    // and it was said, once
    const said = s.logs.tail(['i-1'], 100).filter((l) => l.stream === 'daemon' && l.msg.includes('supervisor.channel.messagesPerSecond (200)'));
    expect(said).toHaveLength(1);
  });

  it('holds log calls past the output cap instead of dropping them', async () => {
    const LINES = 100;
    const N = 500;
    const s = await start({ messagesPerSecond: 100_000, bytesPerSecond: 64 * 1024 * 1024 }, (io) => {
      for (let i = 0; i < N; i++) io.peer.notify('log', { level: 'info', msg: `line ${i}` });
    }, { linesPerSecond: LINES, bytesPerSecond: 1024 * 1024 });
    const kept = (): string[] => s.logs.tail(['i-1'], 100_000).filter((l) => l.stream === 'agent').map((l) => l.msg);
    await waitFor('the lines after the burst', () => kept().at(-1) === `line ${N - 1}`, 20_000, 50);
    // without the pause, 200 (the burst) would be kept and 300 dropped; with it, a handful are
    // dropped (the one that found the bucket empty, each time) and the rest wait their turn
    const k = kept();
    expect(k.length).toBeGreaterThan(N - 20);
    expect(k).toEqual([...k].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))));
  });

  it('sends agent.init after the answer to hello, never ahead of it', async () => {
    const order: string[] = [];
    const dir = tmpDir('osd-session-order-');
    const logs = new InstanceLogs({ dir: path.join(dir, 'logs'), ringLines: 100, maxBytes: 100_000, files: 1 });
    logs.open('i-2', [], 'orderly');
    const manifest = validateManifest({ identity: { id: 'orderly', name: 'orderly' }, runtime: { entry: 'main.mjs' } }, 'test');
    const spec: LaunchSpec = { instanceId: 'i-2', agentId: 'orderly', token: 't0ken', manifest, installDir: dir, dataDir: dir, plugins: [], env: {}, heartbeatMs: 60_000 };
    const driver = new FakeDriver({
      orderly: async (io) => {
        io.handle('agent.init', () => {
          order.push('agent.init');
          return { ok: true };
        });
        await io.peer.call('hello', { protocol: 1, instance: 'i-2', token: 't0ken' });
        order.push('hello answered');
      },
    });
    const agent = await driver.launch(spec);
    const session = new AgentSession(spec, agent, {
      bus: new EventBus(memoryLogger()),
      hal: unavailableHal,
      logs,
      helloTimeoutMs: 2000,
      channel: { messagesPerSecond: 1000, bytesPerSecond: 1024 * 1024, unreadBytes: 4 * 1024 * 1024 },
      onViolation: () => undefined,
      onHeartbeat: () => undefined,
      onHeld: () => undefined,
      onTokens: () => undefined,
    });
    running.push({ agent, session });
    await session.start();
    expect(order).toEqual(['hello answered', 'agent.init']);
  });
});
