/**
 * The fake driver: scripted in-process agents for tests. A script gets the agent's side of the
 * channel and decides what the agent does. It fails loudly on anything not scripted: launching an
 * agent without a script rejects, and a script that throws ends its agent with code 70.
 * Messages are JSON round-tripped, as on a real transport, and the channel's pause holds what the
 * agent sends in a queue (the kernel buffer of a real transport) until it runs out.
 */
import { OszError } from '../../errors';
import { RpcPeer } from '../../rpc/peer';
import { ReadPause } from '../../rpc/read-pause';
import type { Manifest } from '../manifest';
import type { AgentChannel, AgentDriver, AgentExit, LaunchedAgent, LaunchSpec } from './driver';

export interface FakeAgentIO {
  readonly spec: LaunchSpec;
  /** the agent's JSON-RPC end, already wired to the channel */
  readonly peer: RpcPeer;
  stdout(line: string): void;
  stderr(line: string): void;
  exit(code: number | null, signal?: string | null): void;
  /** replaces the default signal behaviour (TERM, INT, HUP, KILL end the agent) */
  onSignal(fn: (sig: NodeJS.Signals) => void): void;
  /** incoming requests and notifications are answered by these, by method */
  handle(method: string, fn: (params: unknown) => unknown): void;
  sendRaw(value: unknown): void;
  /** runs once the agent has exited */
  onExit(fn: () => void): void;
}

export type FakeScript = (io: FakeAgentIO) => void | Promise<void>;

export class FakeDriver implements AgentDriver {
  readonly name = 'fake' as const;
  constructor(private readonly scripts: Record<string, FakeScript>) {}

  check(_manifest: Manifest): void {}

  launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    const script = this.scripts[spec.agentId];
    if (!script) return Promise.reject(new OszError('OSZ_E_SPAWN_FAILED', `fake driver: no script for agent "${spec.agentId}"`));
    return Promise.resolve(startFake(spec, script));
  }
}

function startFake(spec: LaunchSpec, script: FakeScript): LaunchedAgent {
  const toHost: Array<(v: unknown, bytes: number) => void> = [];
  const queued: Array<[unknown, number]> = [];
  const drain = (): void => {
    while (queued.length > 0 && !hold.paused) {
      const [v, bytes] = queued.shift() ?? [];
      toHost.forEach((f) => f(v, bytes ?? 0));
    }
  };
  const hold = new ReadPause(() => undefined, drain);
  const toHostLater = (v: unknown): void => {
    const text = JSON.stringify(v);
    const copy: unknown = JSON.parse(text);
    queueMicrotask(() => {
      queued.push([copy, Buffer.byteLength(text) + 1]);
      drain();
    });
  };
  const outputs: Array<(s: 'stdout' | 'stderr', l: string) => void> = [];
  const handlers = new Map<string, (p: unknown) => unknown>();
  let signalFn: ((sig: NodeJS.Signals) => void) | undefined;
  let gone = false;
  const exitFns: Array<() => void> = [];
  let resolveExit!: (e: AgentExit) => void;
  const exited = new Promise<AgentExit>((r) => (resolveExit = r));
  const exit = (code: number | null, signal: string | null = null): void => {
    if (gone) return;
    gone = true;
    exitFns.forEach((f) => f());
    peer.close(new Error('agent exited'));
    setImmediate(() => resolveExit({ code, signal }));
  };
  const peer = new RpcPeer(
    (msg) => {
      if (!gone) toHostLater(msg);
    },
    {
      request: (method, params) => {
        const h = handlers.get(method);
        if (!h) throw new OszError('OSZ_E_UNKNOWN_OPERATION', `fake agent: no handler for ${method}`);
        return h(params);
      },
      notification: (method, params) => void handlers.get(method)?.(params),
    },
  );
  const io: FakeAgentIO = {
    spec,
    peer,
    stdout: (l) => outputs.forEach((f) => f('stdout', l)),
    stderr: (l) => outputs.forEach((f) => f('stderr', l)),
    exit,
    onSignal: (fn) => {
      signalFn = fn;
    },
    handle: (m, fn) => void handlers.set(m, fn),
    onExit: (fn) => void exitFns.push(fn),
    sendRaw: (v) => toHostLater(v),
  };
  const channel: AgentChannel = {
    send(msg) {
      if (gone) return;
      const copy: unknown = JSON.parse(JSON.stringify(msg));
      queueMicrotask(() => peer.receive(copy));
    },
    onMessage: (fn) => void toHost.push(fn),
    onInvalid: () => undefined,
    pause: (ms) => hold.pause(ms),
    unread: () => 0,
  };
  // Start on the next turn, as a real process would: the host wires the channel and output first.
  setImmediate(() => {
    Promise.resolve()
      .then(() => script(io))
      .catch((err: unknown) => {
        io.stderr(`fake agent script failed: ${String(err)}`);
        exit(70);
      });
  });
  return {
    osPid: null,
    osStartTime: null,
    channel,
    exited,
    signal(sig) {
      if (gone) return false;
      if (sig === 'SIGKILL') exit(null, 'SIGKILL');
      else if (signalFn) signalFn(sig);
      else if (sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGHUP') exit(null, sig);
      return true;
    },
    onOutput: (fn) => void outputs.push(fn),
  };
}

/** A well-behaved fake agent: hello, init, snapshot, stop on TERM, heartbeats; `extra` may override handlers. */
export function protocolAgent(extra: (io: FakeAgentIO) => void = () => undefined): FakeScript {
  return async (io) => {
    io.handle('agent.init', () => ({ ok: true }));
    io.handle('agent.snapshot', () => ({ instance: io.spec.instanceId }));
    io.handle('agent.event', () => null);
    io.handle('agent.stop', () => {
      setImmediate(() => io.exit(0));
      return { ok: true };
    });
    io.onSignal((sig) => (sig === 'SIGTERM' || sig === 'SIGINT' ? io.exit(0) : undefined));
    extra(io);
    await io.peer.call('hello', { protocol: 1, instance: io.spec.instanceId, token: io.spec.token });
    const hb = setInterval(() => io.peer.notify('heartbeat'), io.spec.heartbeatMs);
    io.onExit(() => clearInterval(hb));
  };
}
