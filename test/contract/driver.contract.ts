/**
 * The shared agent-driver contract (runtime/agents/drivers/driver.ts). Every driver runs this
 * suite with a factory that can launch the standard behaviours below; a driver that passes it
 * works under the supervisor unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { AgentDriver, LaunchedAgent } from '../../runtime/agents/drivers/driver';
import { RpcPeer } from '../../runtime/rpc/peer';

/** well-behaved: hello, answers init/snapshot, exits 0 on TERM; crash: exits 3 after hello; stubborn: ignores TERM; chatty: prints to stdout/stderr */
export type Behaviour = 'well-behaved' | 'crash' | 'stubborn' | 'chatty';

export interface DriverHarness {
  driver: AgentDriver;
  launch(behaviour: Behaviour): Promise<{ agent: LaunchedAgent; token: string; instance: string }>;
  /** whether the driver reports an OS pid */
  hasOsPid: boolean;
}

function connect(agent: LaunchedAgent): { peer: RpcPeer; hello: Promise<Record<string, unknown>> } {
  let resolveHello!: (p: Record<string, unknown>) => void;
  const hello = new Promise<Record<string, unknown>>((r) => (resolveHello = r));
  const peer = new RpcPeer((m) => agent.channel.send(m), {
    request: (method, params) => {
      if (method === 'hello') {
        resolveHello(params as Record<string, unknown>);
        return { ok: true, protocol: 1 };
      }
      if (method === 'timer.set' || method === 'bus.emit') return { ok: true };
      throw new Error(`unexpected ${method}`);
    },
    notification: () => undefined,
  });
  agent.channel.onMessage((v) => peer.receive(v));
  return { peer, hello };
}

export function describeDriverContract(name: string, factory: () => Promise<DriverHarness>): void {
  describe(`agent driver contract: ${name}`, () => {
    it('starts an agent that says hello with its instance and token, and answers host calls', async () => {
      const h = await factory();
      const { agent, token, instance } = await h.launch('well-behaved');
      const { peer, hello } = connect(agent);
      expect(await hello).toMatchObject({ protocol: 1, instance, token });
      expect(await peer.call('agent.init', { plugins: [] }, 10_000)).toMatchObject({ ok: true });
      expect(await peer.call('agent.snapshot', undefined, 10_000)).toBeDefined();
      if (h.hasOsPid) expect(agent.osPid).toBeGreaterThan(0);
      expect(agent.signal('SIGTERM')).toBe(true);
      const exit = await agent.exited;
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
      expect(agent.signal('SIGTERM')).toBe(false);
      expect(() => agent.channel.send({ jsonrpc: '2.0', method: 'agent.event' })).not.toThrow();
    });

    it('reports a crash with its exit code', async () => {
      const h = await factory();
      const { agent } = await h.launch('crash');
      const { peer, hello } = connect(agent);
      await hello;
      void peer.call('agent.init', {}, 10_000).catch(() => undefined);
      expect((await agent.exited).code).toBe(3);
    });

    it('ends an agent that ignores TERM with KILL', async () => {
      const h = await factory();
      const { agent } = await h.launch('stubborn');
      const { peer, hello } = connect(agent);
      await hello;
      await peer.call('agent.init', {}, 10_000);
      agent.signal('SIGTERM');
      const raced = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r('still running'), 300))]);
      expect(raced).toBe('still running');
      agent.signal('SIGKILL');
      expect((await agent.exited).signal).toBe('SIGKILL');
    });

    it('delivers stdout and stderr as lines', async () => {
      const h = await factory();
      const { agent } = await h.launch('chatty');
      const lines: string[] = [];
      agent.onOutput((stream, line) => lines.push(`${stream}:${line}`));
      const { peer, hello } = connect(agent);
      await hello;
      void peer.call('agent.init', {}, 10_000).catch(() => undefined);
      await agent.exited;
      expect(lines).toEqual(expect.arrayContaining(['stdout:out line', 'stderr:err line']));
    });
  });
}
