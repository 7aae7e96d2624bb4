/**
 * The host side of the agent protocol for one running instance (DESIGN §12.3,
 * docs/agent-protocol.md). It is the same for every driver: it waits for `hello` with the
 * instance's token, then serves the agent's requests (hal.*, bus.emit, timer.*, log, tokens,
 * heartbeat) and makes the host's calls (agent.init, agent.event, agent.snapshot, agent.stop).
 * Identity comes from the channel the message arrived on, never from what the agent says.
 *
 * Floods (issue 16): every message read is paid for from the instance's channel budget
 * (channel-budget.ts, `supervisor.channel`), and a `log` call from its output cap; when either is
 * spent the channel is not read for a while. Nothing is dropped on the way in: the agent waits.
 */
import crypto from 'node:crypto';
import type { EventBus } from '../bus/bus';
import { MAX_EVENT_DATA_BYTES, EVENT_TYPE } from '../bus/envelope';
import { matchesAny } from '../bus/pattern';
import { OszError } from '../errors';
import { RpcPeer } from '../rpc/peer';
import { ChannelBudget, type ChannelLimits } from './channel-budget';
import type { LaunchedAgent, LaunchSpec } from './drivers/driver';
import type { AgentHalPort, HalCaller } from './hal-port';
import type { InstanceLogs } from './logs';
import { AgentTimers } from './timers';

/** After this many invalid messages the agent is treated as hostile and stopped. */
export const MAX_INVALID_MESSAGES = 100;
const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);
/** how often a throttled channel is said in the instance log */
const THROTTLE_REPORT_MS = 60_000;

export interface SessionDeps {
  bus: EventBus;
  hal: AgentHalPort;
  logs: InstanceLogs;
  helloTimeoutMs: number;
  /**
   * supervisor.channel: what the instance may send per second before its channel is not read,
   * and what the daemon holds for it unread before its events are dropped
   */
  channel: ChannelLimits;
  /** called for protocol abuse that should end the instance */
  onViolation(reason: string): void;
  onHeartbeat(): void;
  /**
   * the daemon is holding the agent's channel or output (budget or cap spent): a heartbeat behind
   * what it is not reading cannot arrive, so that silence is the daemon's, not the agent's
   */
  onHeld(): void;
  onTokens(n: number): void;
  /** the rule event the instance was spawned for: its emits continue that causal chain */
  cause?: { id: string; depth: number };
}

export class AgentSession {
  readonly peer: RpcPeer;
  private helloed = false;
  private invalidCount = 0;
  private readonly timers: AgentTimers;
  private helloWaiter: { resolve(): void; reject(e: Error): void } | undefined;
  private readonly caller: HalCaller;
  private readonly budget: ChannelBudget;
  /** pauses since the last report, and when that was */
  private throttled = { pauses: 0, reportedAt: -Infinity };
  /** events dropped because the agent did not read them, since the last report */
  private unread = { dropped: 0, reportedAt: -Infinity };

  constructor(
    private readonly spec: LaunchSpec,
    private readonly agent: LaunchedAgent,
    private readonly deps: SessionDeps,
  ) {
    this.caller = { agentId: spec.agentId, instance: spec.instanceId, grants: spec.manifest.capabilities.hal };
    this.timers = new AgentTimers((name) => this.deliver({ type: `timer:${name}`, source: `timer:${spec.instanceId}`, data: { name } }));
    this.peer = new RpcPeer((msg) => this.send(msg), {
      request: (method, params) => this.onRequest(method, params),
      notification: (method, params) => this.onNotification(method, params),
      invalid: (reason) => this.onInvalid(reason),
    });
    this.budget = new ChannelBudget(deps.channel);
    agent.channel.onMessage((v, bytes) => {
      this.peer.receive(v);
      this.throttle(this.budget.charge(bytes));
    });
    agent.channel.onInvalid((reason) => this.onInvalid(reason));
    agent.onOutput((stream, line) => {
      const ms = deps.logs.append(spec.instanceId, stream, stream === 'stderr' ? 'warn' : 'info', line);
      if (ms > 0) deps.onHeld();
      return ms;
    });
  }

  /** Resolves after a valid hello and a successful agent.init; rejects on timeout or refusal. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new OszError('OSZ_E_SPAWN_FAILED', `no hello from the agent within ${this.deps.helloTimeoutMs} ms`)), this.deps.helloTimeoutMs);
      this.helloWaiter = {
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      void this.agent.exited.then((exit) => this.helloWaiter?.reject(new OszError('OSZ_E_SPAWN_FAILED', `the agent exited before hello (code ${exit.code}, signal ${exit.signal})`)));
    });
    await this.peer.call('agent.init', { plugins: this.spec.plugins, agentId: this.spec.agentId, instance: this.spec.instanceId, trigger: this.spec.trigger ?? null }, Math.max(this.spec.manifest.limits.callTimeoutMs, 10_000));
    for (const pattern of this.spec.manifest.capabilities.events.subscribe) {
      this.deps.bus.on(this.spec.instanceId, pattern, (e) => {
        // An agent does not hear its own events back (a cheap guard against self-loops).
        if (e.source !== this.source) this.sendEvent(e);
      });
    }
  }

  snapshot(timeoutMs = 5000): Promise<unknown> {
    return this.peer.call('agent.snapshot', undefined, timeoutMs);
  }

  /** Ends the session: timers, bus listeners and pending calls go; the HAL releases the instance. */
  dispose(reason: Error): void {
    this.timers.clearAll();
    this.deps.bus.removeOwner(this.spec.instanceId);
    this.peer.close(reason);
    this.helloWaiter?.reject(reason);
  }

  private get source(): string {
    return `agent:${this.spec.agentId}/${this.spec.instanceId}`;
  }

  private deliver(e: { type: string; source: string; data: Record<string, unknown> }): void {
    const envelope = { v: 1 as const, id: crypto.randomUUID(), type: e.type, source: e.source, time: new Date().toISOString(), data: e.data, depth: 0 };
    this.sendEvent(envelope);
  }

  /**
   * An event for the agent, unless it has not read what it was sent (issue 16): past
   * supervisor.channel.unreadBytes held for it, its events are dropped (counted, and said in its
   * log once a minute), so an agent that stops reading cannot grow the daemon.
   */
  private sendEvent(event: unknown): void {
    if (this.agent.channel.unread() > this.deps.channel.unreadBytes) {
      this.unread.dropped++;
      const now = performance.now();
      if (now - this.unread.reportedAt >= THROTTLE_REPORT_MS) {
        this.deps.logs.append(this.spec.instanceId, 'daemon', 'warn', `protocol: the agent is not reading its channel (over supervisor.channel.unreadBytes, ${this.deps.channel.unreadBytes} bytes, unread); ${this.unread.dropped} event(s) dropped since the last report`);
        this.unread = { dropped: 0, reportedAt: now };
      }
      return;
    }
    this.send({ jsonrpc: '2.0', method: 'agent.event', params: { event } });
  }

  /**
   * Everything the daemon writes to the agent. Answers and host calls are never dropped; an agent
   * that leaves four times supervisor.channel.unreadBytes of them unread is stopped.
   */
  private send(msg: object): void {
    if (this.agent.channel.unread() > 4 * this.deps.channel.unreadBytes) {
      this.deps.onViolation(`the agent does not read its channel (over 4 × supervisor.channel.unreadBytes unread)`);
      return;
    }
    this.agent.channel.send(msg);
  }

  private async onRequest(method: string, params: unknown): Promise<unknown> {
    const p = (params !== null && typeof params === 'object' ? params : {}) as Record<string, unknown>;
    if (!this.helloed) {
      if (method !== 'hello') {
        this.deps.onViolation(`"${method}" before hello`);
        throw new OszError('OSZ_E_PROTOCOL', 'the first message must be hello');
      }
      return this.onHello(p);
    }
    switch (method) {
      case 'hello':
        throw new OszError('OSZ_E_PROTOCOL', 'hello was already received');
      case 'hal.read':
        return this.deps.hal.read(this.caller, requireString(p.sensorType, 'sensorType'));
      case 'hal.actuate':
        await this.deps.hal.actuate(this.caller, requireString(p.deviceId, 'deviceId'), p.command);
        return { ok: true };
      case 'hal.camera':
        return this.deps.hal.camera(this.caller, requireString(p.deviceId, 'deviceId'));
      case 'bus.emit':
        return this.emit(p);
      case 'timer.set':
        this.timers.set(p.name, p.ms, p.repeat);
        return { ok: true };
      case 'timer.clear':
        return { cleared: this.timers.clear(p.name) };
      default:
        throw new OszError('OSZ_E_UNKNOWN_OPERATION', `unknown agent protocol method "${method.slice(0, 64)}"`);
    }
  }

  private onHello(p: Record<string, unknown>): unknown {
    const token = typeof p.token === 'string' ? Buffer.from(p.token) : Buffer.alloc(0);
    const expected = Buffer.from(this.spec.token);
    const tokenOk = token.length === expected.length && crypto.timingSafeEqual(token, expected);
    if (p.protocol !== 1 || p.instance !== this.spec.instanceId || !tokenOk) {
      const why = p.protocol !== 1 ? `unsupported protocol ${String(p.protocol)}` : 'wrong instance or token';
      this.deps.onViolation(`hello refused: ${why}`);
      const err = new OszError('OSZ_E_PROTOCOL', `hello refused: ${why}`);
      this.helloWaiter?.reject(err);
      throw err;
    }
    this.helloed = true;
    // agent.init follows the answer to hello on the wire, not ahead of it: the answer leaves a few
    // microtasks from now, so start() goes on after them
    setImmediate(() => this.helloWaiter?.resolve());
    return { ok: true, protocol: 1, agentId: this.spec.agentId, heartbeatMs: this.spec.heartbeatMs };
  }

  private emit(p: Record<string, unknown>): { id: string } {
    const type = requireString(p.type, 'type');
    if (!EVENT_TYPE.test(type)) throw new OszError('OSZ_E_INVALID_PARAMS', `event type "${type.slice(0, 100)}" must look like "area:thing"`);
    if (!matchesAny(this.spec.manifest.capabilities.events.emit, type)) {
      throw new OszError('OSZ_E_FORBIDDEN', `agent ${this.spec.agentId} may not emit "${type}": add it to capabilities.events.emit`);
    }
    const data = p.data ?? {};
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new OszError('OSZ_E_INVALID_PARAMS', 'event data must be an object');
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_EVENT_DATA_BYTES) throw new OszError('OSZ_E_INVALID_PARAMS', `event data is over ${MAX_EVENT_DATA_BYTES} bytes`);
    const e = this.deps.bus.emit({ type, source: this.source, data: data as Record<string, unknown>, ...(this.deps.cause ? { cause: this.deps.cause } : {}) });
    return { id: e.id };
  }

  private onNotification(method: string, params: unknown): void {
    if (!this.helloed) {
      this.onInvalid(`notification "${method.slice(0, 64)}" before hello`);
      return;
    }
    const p = (params !== null && typeof params === 'object' ? params : {}) as Record<string, unknown>;
    switch (method) {
      case 'heartbeat':
        this.deps.onHeartbeat();
        return;
      case 'log': {
        const level = typeof p.level === 'string' && LOG_LEVELS.has(p.level) ? (p.level as 'info') : 'info';
        // The output cap spent: stop reading for as long as it says, like a process's stdout pipe.
        this.hold(this.deps.logs.append(this.spec.instanceId, 'agent', level, typeof p.msg === 'string' ? p.msg : JSON.stringify(p.msg ?? '')));
        return;
      }
      case 'tokens':
        if (typeof p.n === 'number' && Number.isFinite(p.n) && p.n >= 0) this.deps.onTokens(p.n);
        else this.onInvalid('tokens needs a non-negative number n');
        return;
      default:
        this.onInvalid(`unknown notification "${method.slice(0, 64)}"`);
    }
  }

  private hold(ms: number): void {
    if (ms <= 0) return;
    this.agent.channel.pause(ms);
    this.deps.onHeld();
  }

  /** Holds the channel for `ms` when the budget is spent, and says so at most once a minute. */
  private throttle(ms: number): void {
    if (ms <= 0) return;
    this.hold(ms);
    this.throttled.pauses++;
    const now = performance.now();
    if (now - this.throttled.reportedAt < THROTTLE_REPORT_MS) return;
    const r = this.budget.rates;
    const key = this.budget.over === 'bytes' ? `supervisor.channel.bytesPerSecond (${r.bytesPerSecond})` : `supervisor.channel.messagesPerSecond (${r.messagesPerSecond})`;
    this.deps.logs.append(this.spec.instanceId, 'daemon', 'warn', `protocol: the agent sends more than ${key}; its channel is read more slowly (${this.throttled.pauses} pause(s) since the last report)`);
    this.throttled = { pauses: 0, reportedAt: now };
  }

  private onInvalid(reason: string): void {
    this.invalidCount++;
    if (this.invalidCount <= 5) this.deps.logs.append(this.spec.instanceId, 'daemon', 'warn', `protocol: ${reason}`);
    if (this.invalidCount === MAX_INVALID_MESSAGES) this.deps.onViolation(`${MAX_INVALID_MESSAGES} invalid protocol messages`);
  }
}

function requireString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new OszError('OSZ_E_INVALID_PARAMS', `${name} must be a non-empty string of at most 256 characters`);
  return v;
}
