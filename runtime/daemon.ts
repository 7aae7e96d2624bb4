/**
 * The composition root (DESIGN §2): config → store → bus → drivers → supervisor → control plane
 * → control socket → HTTP. Constructors only store fields; `start()` runs the steps in a logged
 * order and `stop()` undoes them in reverse. Nothing else creates subsystems.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Installer } from './agents/install';
import { InstanceLogs } from './agents/logs';
import type { AgentDriver } from './agents/drivers/driver';
import { permissionFlag, ProcessDriver } from './agents/drivers/process';
import { WorkerDriver } from './agents/drivers/worker';
import { LazyWasmDriver } from './agents/drivers/wasm/lazy';
import { type HostFigures, hostSampler } from '../hal/platform/host';
import { SysRoot } from '../hal/platform/root';
import { trapHandlerEnabled } from './agents/drivers/wasm/trap-handler';
import { halPort, unavailableHal } from './agents/hal-port';
import { type BoardProfile, Hal, loadProfile, SimBoard } from '../hal/index';
import { installRunner, prepareHome } from './home';
import { halAudit, watchDisk } from './sinks';
import { Supervisor } from './agents/supervisor';
import { EventBus } from './bus/bus';
import { matchesAny } from './bus/pattern';
import { homePaths, controlSocketPath, tokenPathFor, type HomePaths } from './config/paths';
import type { LoadedConfig } from './config/loader';
import { redactConfig } from './config/redact';
import { OPERATIONS } from './control/ops/index';
import { ControlPlane } from './control/plane';
import type { ControlServices, DaemonInfo, SubsystemHealth } from './control/services';
import { ControlSocketServer, prepareSocketDir } from './control/socket-server';
import { readOrCreateToken, writeToken } from './control/token';
import { registerHealth } from './http/health';
import { HttpServer } from './http/server';
import { registerStatusRoutes } from './http/routes';
import { type FleetState, readFirstbootError, subsystemHealth } from './health';
import type { SseHub } from './http/stream';
import type { Logger } from './log';
import { boardDirs, findBoard } from './boards';
import type { DoctorCheck } from './doctor';
import { OszError } from './errors';
import { localSandboxHost, planSandbox, type SandboxPlan, untraversable } from './sandbox';
import { createStore, type Store } from './store/store';
import { LazyRules } from './rules/lazy';
import type { HookSourceConfig } from './hooks/webhooks';
import type { Probes } from './probes/probes';
import { Projector } from './dashboard/projector';
import { daemonSources } from './dashboard/sources';
import { resolveDeviceId } from './fleet/device-id';
import { fleetExport, rulePublish } from './fleet/export';
import { bootId } from './util/boot-id';
import { nodeRunnerPath, packageVersion } from './util/package-root';

/**
 * High-rate events stay off the SD card (DESIGN §7: sensor samples live in RAM; the HAL's mirror
 * holds the latest of each). Persisting every poll would rewrite WAL pages several times a second,
 * around a gigabyte a day of card wear for a handful of sensors.
 */
const NOT_PERSISTED = ['hal:sensor.**'];

interface Step {
  name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export class Daemon {
  readonly paths: HomePaths;
  readonly socketPath: string;
  private readonly steps: Step[] = [];
  private started: Step[] = [];
  private store: Store | undefined;
  private supervisor: Supervisor | undefined;
  private http: HttpServer | undefined;
  private streams: SseHub | undefined;
  private httpToken = '';
  private firstbootError: string | undefined;
  private socket: ControlSocketServer | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private sandbox: SandboxPlan | undefined;
  private runnerPath: string | undefined;
  private boardFile: string | undefined;
  private board: (BoardProfile & { file: string }) | undefined;
  private hal: Hal | undefined;
  private simBoard: SimBoard | undefined;
  private wasm: LazyWasmDriver | undefined;
  private hostSample: (() => HostFigures) | undefined;
  private stopReplay: (() => void) | undefined;
  private docker: import('./agents/drivers/docker/driver').DockerDriver | undefined;
  private rules: LazyRules | undefined;
  private hooksHttp: HttpServer | undefined;
  private probes: Probes | undefined;
  private services: ControlServices | undefined;
  private dashboard: Projector | undefined;
  private plane: ControlPlane | undefined;
  private fleet: import('./fleet/link').FleetLink | undefined;
  private deviceId = os.hostname();

  constructor(
    readonly loaded: LoadedConfig,
    readonly log: Logger,
    private readonly extraDrivers: AgentDriver[] = [],
  ) {
    this.paths = homePaths(loaded.home);
    this.socketPath = controlSocketPath(loaded.home, loaded.config.control.socket);
  }

  async start(): Promise<void> {
    const cfg = this.loaded.config;
    const bus = new EventBus(this.log);
    const logs = new InstanceLogs({
      dir: this.paths.logs,
      ringLines: cfg.logs.ringLines,
      maxBytes: cfg.logs.maxBytes,
      files: cfg.logs.files,
      output: { bytesPerSecond: cfg.logs.outputBytesPerSecond, linesPerSecond: cfg.logs.outputLinesPerSecond },
    });
    let installer: Installer | undefined;
    // CPU is a rate: the first status shows it since the daemon started.
    this.hostSample = hostSampler(new SysRoot('/'), this.paths.home);

    this.steps.push(
      {
        name: 'home',
        start: async () => {
          const dirs = boardDirs(this.paths.home);
          findBoard(cfg.board, dirs);
          this.board = loadProfile(cfg.board, dirs);
          this.boardFile = this.board.file;
          if (cfg.replay !== undefined && !fs.existsSync(cfg.replay)) {
            throw new OszError('OSZ_E_CONFIG', `replay trace ${cfg.replay} does not exist`, { replay: cfg.replay });
          }
          if (cfg.replay !== undefined && this.board.name !== 'sim' && this.board.extends !== 'sim') {
            throw new OszError('OSZ_E_CONFIG', `--replay feeds the sim board; board ${this.board.name} reads real hardware`, { replay: cfg.replay });
          }
          prepareHome(this.paths);
          this.firstbootError = readFirstbootError(this.paths.home);
          const resolved = resolveDeviceId(this.paths.home, cfg.fleet.deviceId, process.env, new SysRoot('/'));
          this.deviceId = resolved.id;
          if (resolved.source === 'random' || resolved.source === 'board serial') this.log.info('fleet', `device id ${resolved.id} (from the ${resolved.source}; kept in ${path.join(this.paths.home, 'device-id')})`);
          this.sandbox = await planSandbox(cfg.sandbox, localSandboxHost(this.paths.data));
          for (const w of this.sandbox.warnings) this.log.warn('sandbox', w);
          if (this.sandbox.separateUid) this.log.info('sandbox', `process and worker agents run under their own uid (daemon uid ${this.sandbox.daemon.uid}${this.sandbox.daemon.uid === 0 ? '' : ` with ${this.sandbox.daemon.caps.join(' ')}`})`);
          this.runnerPath = installRunner(this.paths.home, this.log);
          if (this.sandbox.separateUid) {
            for (const target of [this.paths.store, this.runnerPath]) {
              const blocked = untraversable(target);
              if (blocked.length) this.log.error('sandbox', `agents under their own uid cannot reach ${target}: give ${blocked.join(', ')} mode o+x`);
            }
          }
        },
        stop: () => undefined,
      },
      {
        name: 'store',
        start: () => {
          this.store = createStore(this.paths.db, this.log, { keepEvents: cfg.events.keep, commitWithinMs: cfg.events.commitWithinMs });
          installer = new Installer(this.store, this.paths.store, { base: cfg.sandbox.uidBase, count: cfg.sandbox.uidCount });
          const store = this.store;
          // Exported from here, not from the link: what happens before the link is up is sent once
          // it is, and the outbox keeps the event log's order (issue 17).
          if (cfg.fleet.broker) store.journal.exportTo(fleetExport(cfg.fleet, this.deviceId));
          // the first listener of the bus: a cause is journaled before the rules see it, so every
          // effect is after it in the log and the outbox
          bus.on('event-log', '**', (e) => store.journal.record(e, !matchesAny(NOT_PERSISTED, e.type)));
          watchDisk(store, bus, this.log);
          if (store.readOnly) bus.emit({ type: 'alert:disk_readonly', source: 'store', data: { problem: 'readonly', message: store.guard.problem?.message ?? '' } });
          this.flushTimer = setInterval(() => this.flushEvents(), 1000);
        },
        stop: () => {
          if (this.flushTimer) clearInterval(this.flushTimer);
          this.flushEvents();
          this.store?.close();
        },
      },
      {
        name: 'hal',
        start: async () => {
          const board = this.must(this.board);
          const store = this.must(this.store);
          if (board.name !== 'sim' && board.extends !== 'sim') {
            // A real board: sysfs GPIO, i2c-bus, serialport, rpicam-vid (DESIGN §5).
            const { piBackends } = await import('../hal/pi/backends');
            const backends = piBackends(board);
            this.hal = new Hal(board, backends, halAudit(store, this.log), { emit: (type, data) => void bus.emit({ type, source: 'hal', data }) });
            await this.hal.start();
            for (const d of this.hal.list()) if (d.status === 'unavailable') this.log.warn('hal', `${d.id}: ${d.detail ?? 'unavailable'}`);
            for (const w of backends.gpioWarnings()) this.log.warn('hal', w);
            return;
          }
          const sim = new SimBoard(board, [process.execPath, path.join(path.dirname(nodeRunnerPath()), '..', 'sim', 'fake-rpicam.mjs')]);
          this.hal = new Hal(board, sim, halAudit(store, this.log), { emit: (type, data) => void bus.emit({ type, source: 'hal', data }) });
          await this.hal.start();
          this.simBoard = sim;
          if (cfg.replay !== undefined) {
            // Recorded readings instead of the simulated climate (hal/trace.ts), loaded only for a replay.
            const [{ parseTrace, replayTrace }, { simReplayFeed }] = await Promise.all([import('../hal/trace'), import('../hal/sim/replay')]);
            const trace = parseTrace(fs.readFileSync(cfg.replay, 'utf8'), cfg.replay);
            const hal = this.hal;
            this.log.info('hal', `replaying ${trace.events.length} events recorded on ${trace.header.board} at ${new Date(trace.header.started).toISOString()} from ${cfg.replay}`);
            this.stopReplay = replayTrace(trace.events, simReplayFeed(hal, board, sim), { onEnd: () => this.log.info('hal', `replay of ${cfg.replay} finished`) });
          } else {
            sim.startClimate();
          }
        },
        stop: async () => {
          this.stopReplay?.();
          this.simBoard?.stopClimate();
          await this.hal?.stop();
        },
      },
      {
        name: 'supervisor',
        start: async () => {
          const drivers = new Map<string, AgentDriver>();
          drivers.set(
            'process',
            new ProcessDriver({
              separateUid: this.sandbox?.separateUid ?? false,
              ...(this.sandbox?.mode === 'refused' ? { uidRefusal: this.sandbox.reason } : {}),
              dockerEnabled: cfg.docker.enabled,
              ...(this.runnerPath ? { runnerPath: this.runnerPath } : {}), ...(this.sandbox?.setprivPath ? { setprivPath: this.sandbox.setprivPath } : {}) }),
          );
          drivers.set(
            'worker',
            new WorkerDriver({
              hostPath: path.join(path.dirname(this.runnerPath ?? nodeRunnerPath()), 'worker-host.mjs'),
              separateUid: this.sandbox?.separateUid ?? false,
              ...(this.sandbox?.mode === 'refused' ? { uidRefusal: this.sandbox.reason } : {}),
              dockerEnabled: cfg.docker.enabled,
              ...(this.sandbox?.setprivPath ? { setprivPath: this.sandbox.setprivPath } : {}),
            }),
          );
          this.wasm = new LazyWasmDriver({
            cellPath: path.join(path.dirname(nodeRunnerPath()), '..', 'wasm-cell.mjs'),
            cellSize: cfg.wasm.cellSize,
            watchdogMs: cfg.wasm.watchdogMs,
            heartbeatMs: cfg.supervisor.heartbeatMs,
            usageMs: cfg.supervisor.limits.sampleMs,
            rates: { logPerSecond: cfg.wasm.logPerSecond, emitPerSecond: cfg.wasm.emitPerSecond },
            maxFileBytes: cfg.wasm.maxFileKb * 1024,
            ceilings: { maxMemoryMb: cfg.wasm.maxMemoryMb, totalMemoryMb: cfg.wasm.totalMemoryMb, maxCallTimeoutMs: cfg.wasm.maxCallTimeoutMs, sharedCallTimeoutMs: cfg.wasm.sharedCallTimeoutMs },
            ...(this.hal ? { mirror: { layout: this.hal.mirror.layout(), readable: (grants) => this.hal?.mirrorReadable(grants) ?? [] } } : {}),
          });
          drivers.set('wasm', this.wasm);
          if (cfg.docker.enabled) {
            // Loaded only when enabled (DESIGN §12.13).
            const { DockerDriver } = await import('./agents/drivers/docker/driver');
            const docker = new DockerDriver({
              socketPath: cfg.docker.socket,
              runDir: this.paths.run,
              sdkDir: path.dirname(this.runnerPath ?? nodeRunnerPath()),
              homeLabel: crypto.createHash('sha256').update(path.resolve(this.paths.home)).digest('hex').slice(0, 16),
              network: cfg.docker.network,
              pull: cfg.docker.pull,
              usageMs: cfg.supervisor.limits.sampleMs,
              log: (level, msg) => this.log[level]('docker', msg),
            });
            await docker.init();
            if (!(this.sandbox?.separateUid ?? false)) {
              this.log.warn('docker', 'process and worker agents are refused while the docker driver is enabled and agents do not run under their own uid: sandbox.shareUid cannot be used with the docker driver (docs/security.md)');
            }
            this.docker = docker;
            drivers.set('docker', docker);
          }
          for (const d of this.extraDrivers) drivers.set(d.name, d);
          this.supervisor = new Supervisor({
            store: this.must(this.store),
            bus,
            log: this.log,
            logs,
            hal: this.hal ? halPort(this.hal) : unavailableHal,
            installer: this.must(installer),
            dataRoot: this.paths.data,
            separateUid: this.sandbox?.separateUid ?? false,
            supervisor: cfg.supervisor,
            drivers,
          });
        },
        stop: async () => {
          await this.supervisor?.stop();
          this.wasm?.close();
          await logs.closeAll();
        },
      },
      {
        name: 'control',
        start: async () => {
          const docker = this.docker;
          const services: ControlServices = {
            ...(docker ? { imageId: (ref: string) => docker.imageId(ref), checkDockerUser: (user: string, image: string) => docker.checkUser(user, image) } : {}),
            store: this.must(this.store),
            supervisor: this.must(this.supervisor),
            installer: this.must(installer),
            bus,
            log: this.log,
            info: () => this.info(),
            health: () => this.health(),
            doctor: () => this.doctor(),
            hal: this.hal,
            setDaemonLogLevel: (level) => this.log.setLevel(level),
          };
          const plane = new ControlPlane(OPERATIONS, services);
          this.plane = plane;
          const supervisor = this.must(this.supervisor);
          // Rule actions go through the plane like any caller's (DESIGN §6); the step below starts it.
          this.rules = new LazyRules({
            repo: this.must(this.store).rules,
            bus,
            log: this.log,
            call: (op, params, caller) => plane.call(op, params, caller),
            world: () => ({ device: { id: this.deviceId, board: cfg.board }, agents: supervisor.runningByAgent() }),
            ruleInstances: () => supervisor.ruleInstances(),
            bootId: bootId(),
            file: path.join(this.paths.home, 'orchestration.yaml'),
            installed: (agent) => this.must(this.store).agents.ids().has(agent),
            maxActionsPerMinute: cfg.rules.maxActionsPerMinute,
            publish: (topic, message) => {
              if (!cfg.fleet.broker) throw new OszError('OSZ_E_FLEET_OFF', `publish(${topic}): this device has no fleet.broker, so there is no collector to publish to`, { topic });
              const m = rulePublish(this.deviceId, topic, message);
              this.must(this.store).journal.publish(m.topic, m.payload);
            },
          });
          services.rules = this.rules;
          this.services = services;
          prepareSocketDir(path.dirname(this.socketPath));
          const token = writeToken(tokenPathFor(this.socketPath));
          // the HTTP bearer token: the control token, unless http.tokenFile names its own (DESIGN §12.16)
          this.httpToken = cfg.http.tokenFile ? readOrCreateToken(cfg.http.tokenFile) : token;
          this.socket = new ControlSocketServer(plane, { ...cfg.control, path: this.socketPath, token }, this.log);
          await this.socket.start();
        },
        stop: async () => {
          await this.socket?.stop();
          fs.rmSync(tokenPathFor(this.socketPath), { force: true });
        },
      },
      {
        name: 'http',
        start: async () => {
          this.http = new HttpServer({ listen: cfg.http.listen, allowedHosts: cfg.http.allowedHosts, limits: cfg.http }, this.log);
          registerHealth(this.http, () => this.health(), packageVersion());
          this.streams = registerStatusRoutes(this.http, {
            plane: this.must(this.plane),
            bus,
            token: () => this.httpToken,
            dashboard: () => this.dashboard,
            rules: () => this.rules?.list().rules ?? [],
            hal: () => this.hal?.counters() ?? [],
            anonymous: cfg.http,
          });
          const { listen: hooksListen, ...sources } = cfg.hooks;
          if (Object.keys(sources).length > 0) {
            // loaded only when a webhook source is configured (DESIGN §12.13)
            const { Webhooks } = await import('./hooks/webhooks');
            const journal = this.must(this.store).journal;
            const webhooks = new Webhooks(sources as Record<string, HookSourceConfig>, bus, this.log, { ...cfg.http.webhooks, durable: () => journal.durable() });
            webhooks.register(this.http);
            if (hooksListen) {
              // the LAN listener serves /hooks/* and nothing else (DESIGN §12.7)
              this.hooksHttp = new HttpServer({ listen: hooksListen, allowedHosts: [], checkHost: false, limits: cfg.http }, this.log);
              webhooks.register(this.hooksHttp);
              await this.hooksHttp.start();
            }
          }
          await this.http.start();
        },
        stop: async () => {
          this.streams?.close();
          await this.hooksHttp?.stop();
          await this.http?.stop();
        },
      },
      {
        name: 'rules',
        start: () => this.must(this.rules).start(),
        stop: () => this.rules?.stop(),
      },
      {
        name: 'probes',
        start: async () => {
          if (cfg.probes.length === 0) return;
          const { Probes } = await import('./probes/probes');
          const supervisor = this.must(this.supervisor);
          this.probes = new Probes(cfg.probes, { root: new SysRoot('/'), running: (agent) => supervisor.runningByAgent()[agent] ?? 0 }, (type, data) => void bus.emit({ type, source: 'probe', data }));
          this.probes.start();
        },
        stop: () => this.probes?.stop(),
      },
      {
        name: 'agents',
        start: () => this.must(this.supervisor).start(),
        stop: () => undefined,
      },
      {
        name: 'dashboard',
        start: () => {
          const sources = daemonSources({ info: () => this.info(), supervisor: this.must(this.supervisor), store: this.must(this.store), hal: this.hal, rules: this.rules, deviceId: this.deviceId, fleet: () => this.fleetState() });
          this.dashboard = new Projector(sources, { intervalMs: cfg.dashboard.pollMs, snapshotTimeoutMs: cfg.dashboard.snapshotTimeoutMs, onError: (m) => this.log.warn('dashboard', m) });
          this.must(this.services).dashboard = this.dashboard;
          this.dashboard.start();
        },
        stop: () => this.dashboard?.stop(),
      },
      {
        name: 'fleet',
        start: async () => {
          if (!cfg.fleet.broker) return;
          // MQTT.js and the link are loaded only for a device with a broker (DESIGN §12.13)
          const { createFleetLink } = await import('./fleet/setup');
          this.fleet = createFleetLink({
            config: cfg.fleet,
            deviceId: this.deviceId,
            board: cfg.board,
            version: packageVersion(),
            plane: this.must(this.plane),
            store: this.must(this.store),
            bus,
            ...(this.dashboard ? { dashboard: this.dashboard } : {}),
            emit: (type, data) => void bus.emit({ type, source: 'fleet', data }),
            log: { info: (m) => this.log.info('fleet', m), warn: (m) => this.log.warn('fleet', m), error: (m) => this.log.error('fleet', m) },
          });
          await this.fleet.start();
          this.must(this.services).fleet = this.fleet;
        },
        stop: () => this.fleet?.stop(),
      },
    );

    for (const step of this.steps) {
      this.log.info('daemon', `starting ${step.name}`);
      try {
        await step.start();
      } catch (err) {
        this.log.error('daemon', `${step.name} failed to start: ${(err as Error).message}`);
        this.started.push(step);
        await this.stop();
        throw err;
      }
      this.started.push(step);
    }
    this.log.info('daemon', `ready: control socket ${this.socketPath}, http ${this.http?.address ?? 'off'}, home ${this.paths.home}`);
  }

  async stop(): Promise<void> {
    const steps = this.started.reverse();
    this.started = [];
    for (const step of steps) {
      this.log.info('daemon', `stopping ${step.name}`);
      try {
        await step.stop();
      } catch (err) {
        this.log.error('daemon', `${step.name} failed to stop cleanly: ${(err as Error).message}`);
      }
    }
  }

  private fleetState(): FleetState {
    const broker = this.loaded.config.fleet.broker;
    if (!broker) return { state: 'disabled', broker: null };
    return { state: this.fleet?.state ?? 'connecting', broker: redactUrl(broker), ...(this.fleet ? { refused: this.fleet.noise.counts } : {}) };
  }

  /** On a second stop signal: end every agent at once. */
  killAgentsNow(): void {
    for (const s of this.supervisor?.list() ?? []) this.supervisor?.get(s.instance)?.signal('SIGKILL');
  }

  get httpAddress(): string | undefined {
    return this.http?.address;
  }

  info(): DaemonInfo {
    const cfg = this.loaded.config;
    return {
      version: packageVersion(),
      pid: process.pid,
      startedAt: this.startedAt,
      home: this.paths.home,
      board: cfg.board,
      socket: this.socketPath,
      http: this.http?.address,
      deviceId: this.deviceId,
      node: process.version,
      sandbox: { permissionFlag: permissionFlag(), separateUid: this.sandbox?.separateUid ?? false, setpriv: this.sandbox?.setprivPath },
      ...(this.wasm ? { wasm: this.wasm.stats() } : {}),
      ...(this.hostSample ? { host: this.hostSample() } : {}),
      config: redactConfig(cfg),
    };
  }

  async doctor(): Promise<DoctorCheck[]> {
    const { runDoctor } = await import('./doctor');
    return runDoctor({
      home: this.paths.home,
      socket: this.socketPath,
      tokenFile: tokenPathFor(this.socketPath),
      store: this.must(this.store),
      isRoot: process.getuid?.() === 0,
      sandbox: this.must(this.sandbox),
      runnerPath: this.runnerPath,
      dockerEnabled: this.loaded.config.docker.enabled,
      wasm: { configured: this.loaded.config.wasm.trapHandler, trapHandler: trapHandlerEnabled() },
      ...(this.board ? { board: this.board } : {}),
    });
  }

  health(): SubsystemHealth[] {
    const cfg = this.loaded.config;
    return subsystemHealth({
      board: cfg.board,
      boardFile: this.boardFile,
      store: this.store,
      supervisor: this.supervisor,
      socket: this.socket ? this.socketPath : undefined,
      http: this.http?.address,
      hal: this.hal,
      rules: this.rules,
      docker: this.docker,
      dockerSocket: cfg.docker.socket,
      fleet: this.fleetState(),
      firstbootError: this.firstbootError,
    });
  }

  private flushEvents(): void {
    this.rules?.saveState();
    try {
      this.store?.journal.flush();
    } catch (err) {
      this.log.error('store', `event log flush failed: ${(err as Error).message}`);
    }
  }

  private must<T>(v: T | undefined): T {
    if (v === undefined) throw new Error('composition order broken: a dependency was not started');
    return v;
  }
}

/** a broker URL without its password, for the dashboard */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
