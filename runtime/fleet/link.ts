/**
 * The fleet link (DESIGN §8): one MQTT connection to the collector's broker. It announces the
 * device (retained birth on `status`, a retained will for when it dies, an explicit offline status
 * on a clean stop), publishes the dashboard sections as retained `state/<section>` (on change,
 * debounced; `resources` at most every 30 s at QoS 0), and serves signed commands on `cmd/req/+`
 * through the control plane, replying only under its own `cmd/res/`. It reconnects itself with
 * exponential backoff and full jitter (1 s to 60 s), and raises `alert:fleet_takeover` when the
 * broker keeps dropping it right after connecting (two devices with one id, e.g. a cloned card).
 * Packets over fleet.maxPacketBytes never reach MQTT.js whole (packet-guard.ts); refused garbage
 * is counted and logged at most once a minute per kind (noise.ts).
 */
import type { MqttClient, IClientOptions, IPublishPacket } from 'mqtt';
import type { Caller } from '../control/op';
import { isStreaming } from '../control/op';
import type { Dashboard, Section } from '../dashboard/model';
import { toOszError } from '../errors';
import type { CommandReply } from './command';
import type { AuditEvent, Birth, Offline } from './payloads';
import { ReplyCache } from './reply-cache';
import { fleetView, Hysteresis } from './views';
import { Telemetry, type TelemetryRule } from './telemetry';
import type { FleetOutbox } from './outbox';
import { opOfRequestTopic, topics } from './topics';
import { checkCommand } from './verify';
import { type FleetClock, systemClock } from './clock';
import { NoiseLog } from './noise';
import { type DroppedPacket, guardStream } from './packet-guard';
import type { IssuerPut, IssuerRegistry, IssuerView } from './issuers';
import { type CommandsRepo, RESERVE_WITHIN_MS } from '../store/commands-repo';
import type { Role } from '../control/op';

export interface FleetLinkDeps {
  deviceId: string;
  board: string;
  version: string;
  connectOptions: IClientOptions & { url: string };
  issuers: IssuerRegistry;
  call(op: string, params: unknown, caller: Caller): Promise<unknown>;
  opInfo(op: string): { role: Role; remote: boolean; mutating: boolean } | undefined;
  /** replay protection: `accept` is on disk when it returns, `reserve` within RESERVE_WITHIN_MS with other secure writes */
  commands: Pick<CommandsRepo, 'lastTs' | 'nonceSeen' | 'accept' | 'reserve' | 'forget'>;
  /** fleet.maxClockSkewMs, fleet.maxCommandTtlMs, fleet.maxPacketBytes */
  limits: { maxClockSkewMs: number; maxCommandTtlMs: number; maxPacketBytes: number };
  /** the clock commands are judged by, and whether it is set (by default systemClock()) */
  clock?: FleetClock;
  /** a persisted counter, bumped once per connection */
  nextSession(): number;
  dashboard?: { get(): Dashboard; watch(fn: (changed: Section[]) => void): () => void };
  /** `withinMs`: how long the row may wait to share an fsync (read-only commands) */
  audit(entry: { actor: string; op: string; outcome: 'ok' | 'error' | 'denied'; code?: string; params?: Record<string, unknown> }, withinMs?: number): void;
  /** the SQLite outbox for evt/* and pub/* (absent in unit tests that do not need it) */
  outbox?: FleetOutbox;
  /** sensor telemetry: the rules per type, and the readings (calls `fn` for each; returns the function that stops it) */
  telemetry?: { rules: Readonly<Record<string, TelemetryRule>>; readings(fn: (type: string, value: number, unit: string, ts: number) => void): () => void };
  emit(type: string, data: Record<string, unknown>): void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
}

const QOS0_SECTIONS = new Set(['resources']);
/** the collector announces itself here (retained); when it comes online, devices republish */
export const COLLECTOR_STATUS = 'openstarry/collector/status';
const RESOURCES_EVERY_MS = 30_000;

export class FleetLink {
  private client: MqttClient | undefined;
  private readonly hysteresis = new Hysteresis();
  private session = 0;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private connectedAt = 0;
  private quickDrops: number[] = [];
  private unwatch: (() => void) | undefined;
  private unsensor: (() => void) | undefined;
  private readonly pending = new Map<string, Section>();
  private flushTimer: NodeJS.Timeout | undefined;
  private resourcesAt = 0;
  private readonly replies = new ReplyCache();
  /** the last view published per section, on this connection */
  private readonly published = new Map<string, string>();
  readonly t: ReturnType<typeof topics>;
  state: 'connecting' | 'online' | 'offline' = 'offline';
  readonly counts = { published: 0, bytes: 0, commands: 0, refused: 0 };
  /** refused garbage per kind (what no known issuer signed), and its rate-limited log */
  readonly noise: NoiseLog;
  private readonly clock: FleetClock;

  constructor(private readonly deps: FleetLinkDeps) {
    this.t = topics(deps.deviceId);
    this.noise = new NoiseLog((m) => deps.log.warn(m));
    this.clock = deps.clock ?? systemClock();
  }

  async start(): Promise<void> {
    // CommonJS: bundled, its exports sit on `default`; run from source, also by name
    const mqtt = (await import('mqtt')) as typeof import('mqtt') & { default?: typeof import('mqtt') };
    const connect = mqtt.connect ?? mqtt.default?.connect;
    this.unwatch = this.deps.dashboard?.watch((changed) => this.queueSections(changed));
    // exported events reach the outbox through the event journal, from the store's start (fleet/export.ts)
    this.deps.outbox?.start();
    const tele = this.deps.telemetry;
    if (tele && Object.keys(tele.rules).length > 0) {
      const filter = new Telemetry(tele.rules);
      this.unsensor = tele.readings((type, value, unit, ts) => {
        const c = this.client;
        // QoS 0 and not queued: a reading that cannot go now is stale by the time it could
        if (!c?.connected) return;
        const payload = filter.offer(type, value, unit, ts);
        if (payload === undefined) return;
        this.counts.published++;
        this.counts.bytes += payload.length;
        void c.publishAsync(this.t.tele(type), payload, { qos: 0 }).catch(() => undefined);
      });
    }
    this.connect(connect);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.unwatch?.();
    this.unsensor?.();
    this.noise.stop();
    this.deps.outbox?.stop();
    const c = this.client;
    if (!c) return;
    if (c.connected) await c.publishAsync(this.t.status, JSON.stringify({ v: 1, online: false, session: this.session, clean: true } satisfies Offline), { qos: 1, retain: true }).catch(() => undefined);
    await c.endAsync().catch(() => undefined);
  }

  private connect(connect: typeof import('mqtt').connect): void {
    if (this.stopped) return;
    this.state = 'connecting';
    this.session = this.deps.nextSession();
    const { url, ...opts } = this.deps.connectOptions;
    const will = { topic: this.t.status, payload: Buffer.from(JSON.stringify({ v: 1, online: false, session: this.session } satisfies Offline)), qos: 1 as const, retain: true };
    const max = this.deps.limits.maxPacketBytes;
    // MQTT 5: the broker must not send more (§3.1.2.11.4); both: the guard holds whatever it sends
    const v5 = opts.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 86_400, maximumPacketSize: max } } : {};
    const client = connect(url, { ...opts, clientId: this.deps.deviceId, clean: false, reconnectPeriod: 0, queueQoSZero: false, will, ...v5, manualConnect: true });
    // MQTT.js builds a stream per connection through this (private) builder: wrap what it builds
    const c = client as unknown as { streamBuilder: (cl: MqttClient) => import('node:stream').Duplex };
    const build = c.streamBuilder;
    c.streamBuilder = (cl) => guardStream(build(cl), max, (p) => this.onOversize(client, p));
    client.connect();
    this.client = client;
    client.on('connect', () => {
      const sock = client.stream as { setNoDelay?: (v: boolean) => void } | undefined;
      sock?.setNoDelay?.(true);
      this.attempt = 0;
      this.state = 'online';
      this.connectedAt = Date.now();
      this.deps.log.info(`connected to ${url} as ${this.deps.deviceId} (session ${this.session})`);
      void this.online(client);
    });
    // a handler that throws must not end the daemon (an unhandled rejection exits it)
    client.on('message', (topic, payload, packet) => void this.onMessage(client, topic, payload, packet).catch((err: Error) => this.deps.log.error(`handling a message on ${topic.slice(0, 200)} failed: ${err.message}`)));
    client.on('error', (err) => this.deps.log.warn(`broker: ${err.message}`));
    client.on('close', () => {
      if (this.client !== client) return;
      this.state = 'offline';
      if (this.stopped) return;
      this.noteDrop();
      client.removeAllListeners();
      client.end(true);
      // full jitter: anywhere from 0 to the capped exponential delay, at least 1 s
      const cap = Math.min(60_000, 1000 * 2 ** this.attempt++);
      const delay = Math.max(1000, Math.random() * cap);
      this.retry = setTimeout(() => this.connect(connect), delay);
    });
  }

  private async online(client: MqttClient): Promise<void> {
    try {
      await client.publishAsync(this.t.status, JSON.stringify({ v: 1, online: true, session: this.session, ts: Date.now(), version: this.deps.version, board: this.deps.board } satisfies Birth), { qos: 1, retain: true });
      await client.subscribeAsync([this.t.cmdReqFilter, COLLECTOR_STATUS], { qos: 1 });
      // everything fresh after each (re)connect
      const all = this.deps.dashboard?.get() ?? {};
      this.resourcesAt = 0;
      this.published.clear();
      // what waited while offline goes out now, in order
      void this.deps.outbox?.drain();
      this.queueSections((Object.values(all) as Array<Section | undefined>).filter((s): s is Section => s !== undefined), true);
    } catch (err) {
      this.deps.log.warn(`announcing the device failed: ${(err as Error).message}`);
    }
  }

  private collectorOnline: boolean | undefined;

  /** a collector that comes (back) online gets everything fresh; its retained status at connect does not count as a change */
  private async collectorStatus(payload: Buffer): Promise<void> {
    let online = false;
    try {
      online = (JSON.parse(payload.toString('utf8')) as { online?: unknown }).online === true;
    } catch {
      return;
    }
    const was = this.collectorOnline;
    this.collectorOnline = online;
    if (online && was === false) await this.rebirth().catch(() => undefined);
  }

  private noteDrop(): void {
    const now = Date.now();
    // only a connection that was accepted and then dropped counts: a broker that is down does not
    if (this.connectedAt && now - this.connectedAt < 10_000) this.quickDrops = [...this.quickDrops.filter((t) => now - t < 60_000), now];
    this.connectedAt = 0;
    if (this.quickDrops.length >= 3) {
      this.quickDrops = [];
      const why = `the broker dropped ${this.deps.deviceId} three times within a minute right after connecting: another device probably uses the same id (a cloned SD card?)`;
      this.deps.log.error(why);
      this.deps.emit('alert:fleet_takeover', { deviceId: this.deps.deviceId, reason: why });
    }
  }

  private queueSections(changed: readonly Section[], now = false): void {
    for (const s of changed) this.pending.set(s.name, s);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), now ? 0 : 500);
  }

  private async flush(): Promise<void> {
    const c = this.client;
    if (!c?.connected) return;
    const now = Date.now();
    for (const [name, s] of this.pending) {
      const qos0 = QOS0_SECTIONS.has(name);
      if (qos0 && now - this.resourcesAt < RESOURCES_EVERY_MS) continue;
      this.pending.delete(name);
      if (qos0) this.resourcesAt = now;
      const view = JSON.stringify(fleetView(s, this.hysteresis));
      // diffs: a section whose view did not change is not sent again
      if (this.published.get(name) === view) continue;
      this.published.set(name, view);
      const payload = `{"v":1,"rev":${s.rev},"at":${s.at},"value":${view}}`;
      this.counts.published++;
      this.counts.bytes += payload.length;
      await c.publishAsync(this.t.state(name), payload, { qos: qos0 ? 0 : 1, retain: true }).catch((err: Error) => this.deps.log.warn(`state/${name}: ${err.message}`));
    }
    if (this.pending.size) this.flushTimer = setTimeout(() => void this.flush(), RESOURCES_EVERY_MS - (now - this.resourcesAt));
  }

  private async onMessage(client: MqttClient, topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    if (topic === COLLECTOR_STATUS) return this.collectorStatus(payload);
    const op = opOfRequestTopic(this.deps.deviceId, topic);
    if (!op) return;
    this.counts.commands++;
    const verdict = checkCommand(payload, op, {
      self: this.deps.deviceId,
      issuers: this.deps.issuers,
      opInfo: (o) => this.deps.opInfo(o),
      lastTs: (i) => this.deps.commands.lastTs(i),
      nonceSeen: (i, n) => this.deps.commands.nonceSeen(i, n),
      cached: (i, id) => this.replies.get(i, id),
      now: () => this.clock.now(),
      synced: () => this.clock.synced(),
      limits: this.deps.limits,
    });
    if (verdict.kind === 'run' && verdict.reset !== undefined) this.resetCounter(verdict.request.issuer, verdict.reset);
    if (verdict.kind === 'refused' && verdict.reset !== undefined && verdict.issuer) this.resetCounter(verdict.issuer, verdict.reset);
    // replies only under this device's cmd/res/, whatever the request says
    const props = packet.properties;
    const responseTopic = props?.responseTopic?.startsWith(this.t.cmdResPrefix) ? props.responseTopic : undefined;
    const reply = async (r: CommandReply, replyTo?: string): Promise<void> => {
      const to = responseTopic ?? (replyTo?.startsWith(this.t.cmdResPrefix) ? replyTo : this.t.cmdRes(r.id || 'invalid'));
      const opts = { qos: 1 as const, ...(props?.correlationData ? { properties: { correlationData: props.correlationData } } : {}) };
      await client.publishAsync(to, JSON.stringify(r), opts).catch((err: Error) => this.deps.log.warn(`reply ${r.id}: ${err.message}`));
    };
    if (verdict.kind === 'cached') return reply(verdict.reply);
    if (verdict.kind === 'refused') {
      this.counts.refused++;
      // only signed commands reach the audit table: unsigned noise must not wear the card
      if (verdict.signed) this.auditAndPublish(`mqtt:${verdict.issuer ?? '?'}`, op, 'denied', verdict.code);
      else this.noise.note(verdict.noise ?? 'unparseable', `on ${topic.slice(0, 200)}: ${verdict.code}: ${verdict.message.slice(0, 300)}`);
      return reply({ v: 1, id: verdict.id ?? '', ok: false, error: { code: verdict.code, message: verdict.message } });
    }
    const { request, body, role, mutating } = verdict;
    // a command that changes something is on disk before it runs; a read-only one is committed
    // with its audit row within RESERVE_WITHIN_MS, after the reply is on its way (DESIGN §12.11;
    // docs/fleet-protocol.md says why)
    const readOnly = !mutating;
    try {
      if (readOnly) this.deps.commands.reserve(request.issuer, body.ts, body.nonce, body.exp, Date.now());
      else this.deps.commands.accept(request.issuer, body.ts, body.nonce, body.exp, Date.now());
    } catch (err) {
      // a full or read-only card (OSZ_E_STORE_IO): what cannot be recorded does not run
      const e = toOszError(err);
      this.deps.log.error(`command ${request.id} of ${request.issuer} could not be recorded and was not run: ${e.message}`);
      return reply({ v: 1, id: request.id, ok: false, error: { code: e.code, message: e.message, hint: e.hint } });
    }
    const within = readOnly ? RESERVE_WITHIN_MS : 0;
    let r: CommandReply;
    try {
      const result = await this.deps.call(body.op, body.params, { actor: `mqtt:${request.issuer}`, role, transport: 'mqtt' });
      r = { v: 1, id: request.id, ok: true, result: isStreaming(result) ? result.initial : result };
      this.auditAndPublish(`mqtt:${request.issuer}`, body.op, 'ok', undefined, within);
    } catch (err) {
      const e = toOszError(err);
      r = { v: 1, id: request.id, ok: false, error: { code: e.code, message: e.message, hint: e.hint } };
      this.auditAndPublish(`mqtt:${request.issuer}`, body.op, 'error', e.code, within);
    }
    this.replies.put(request.issuer, request.id, r);
    await reply(r, body.replyTo);
  }

  /** a packet over fleet.maxPacketBytes, skipped by the guard (and acknowledged, when it was QoS 1) */
  private onOversize(client: MqttClient, p: DroppedPacket): void {
    const where = p.topic !== undefined ? `on ${p.topic.slice(0, 200)}` : `of MQTT type ${p.type}`;
    this.noise.note('oversize', `${where}: OSZ_E_REQUEST_TOO_LARGE: a packet of ${p.bytes} bytes, over fleet.maxPacketBytes (${this.deps.limits.maxPacketBytes}), skipped unread`);
    const op = p.topic !== undefined ? opOfRequestTopic(this.deps.deviceId, p.topic) : undefined;
    if (!op || !client.connected) return;
    this.counts.commands++;
    this.counts.refused++;
    // its id was never read: the sender hears of it where unreadable commands are answered
    const r: CommandReply = { v: 1, id: '', ok: false, error: { code: 'OSZ_E_REQUEST_TOO_LARGE', message: `a packet of ${p.bytes} bytes is over this device's fleet.maxPacketBytes (${this.deps.limits.maxPacketBytes})` } };
    void client.publishAsync(this.t.cmdRes('invalid'), JSON.stringify(r), { qos: 1 }).catch(() => undefined);
  }

  /**
   * The issuer's stored counter is further ahead of the synchronised clock than any command may
   * be: it was taken from a command dated ahead while the clock was unset. Forgotten, so that
   * command cannot lock its issuer out; nonces and exp still refuse replays (verify.ts).
   */
  private resetCounter(issuer: string, was: number): void {
    const now = this.clock.now();
    try {
      this.deps.commands.forget(issuer);
    } catch (err) {
      // the disk refused (OSZ_E_STORE_IO): the counter stays, and so does the lockout, for now
      this.deps.log.error(`resetting the counter of issuer ${issuer} failed: ${(err as Error).message}`);
      return;
    }
    this.deps.log.warn(`the counter of issuer ${issuer} stood at ts ${was}, ${Math.round((was - now) / 1000)} s ahead of the synchronised clock: reset (it was set while the clock was not)`);
    // the actor is the issuer whose signed command found the counter
    const actor = `mqtt:${issuer}`;
    this.deps.audit({ actor, op: 'fleet.counter_reset', outcome: 'ok', params: { issuer, was, clock: now } });
    const payload = JSON.stringify({ v: 1, ts: now, actor, op: 'fleet.counter_reset', outcome: 'ok' } satisfies AuditEvent);
    if (this.deps.outbox) this.deps.outbox.enqueue(this.t.evt('audit'), payload);
  }

  private auditAndPublish(actor: string, op: string, outcome: 'ok' | 'error' | 'denied', code?: string, withinMs = 0): void {
    this.deps.audit({ actor, op: `remote:${op}`, outcome, ...(code ? { code } : {}) }, withinMs);
    const payload = JSON.stringify({ v: 1, ts: Date.now(), actor, op, outcome, ...(code ? { code } : {}) } satisfies AuditEvent);
    if (this.deps.outbox) this.deps.outbox.enqueue(this.t.evt('audit'), payload, withinMs);
    else if (this.client?.connected) void this.client.publishAsync(this.t.evt('audit'), payload, { qos: 1 }).catch(() => undefined);
  }

  /** the birth and every section again, unchanged or not (daemon.rebirth, the collector coming online) */
  async rebirth(): Promise<void> {
    const c = this.client;
    if (!c?.connected) throw Object.assign(new Error('the fleet link is offline'), { code: 'OSZ_E_DAEMON_UNREACHABLE' });
    this.published.clear();
    await this.online(c);
  }

  issuers(): IssuerView[] {
    return this.deps.issuers.list();
  }

  putIssuer(p: IssuerPut, by: string): IssuerView | { id: string; revoked: true } {
    return this.deps.issuers.put(p, by);
  }

  /** for the outbox: publish at QoS 1, resolved on PUBACK */
  publishEvent(topic: string, payload: string): Promise<void> {
    const c = this.client;
    if (!c?.connected) return Promise.reject(new Error('offline'));
    return c.publishAsync(topic, payload, { qos: 1 }).then(() => undefined);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }
}
