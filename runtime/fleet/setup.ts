/** Builds the fleet link from the daemon's config and parts (loaded only when `fleet.broker` is set). */
import fs from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { LoadedConfig } from '../config/loader';
import { OszError } from '../errors';
import type { ControlPlane } from '../control/plane';
import type { Store } from '../store/store';
import type { Dashboard, Section } from '../dashboard/model';
import { readPublicKey } from './keys';
import { FleetLink } from './link';
import { FleetOutbox } from './outbox';
import { IssuerRegistry } from './issuers';
import { systemClock } from './clock';
import type { EventEnvelope } from '../bus/envelope';
import type { Issuer } from './verify';

type FleetConfig = LoadedConfig['config']['fleet'];

export function connectOptions(f: FleetConfig): IClientOptions & { url: string } {
  const broker = f.broker ?? '';
  // unix:///run/mosquitto.sock → MQTT.js's mqtt+unix
  const url = broker.startsWith('unix://') ? `mqtt+unix://${broker.slice('unix://'.length)}` : broker;
  const read = (p: string | undefined): Buffer | undefined => (p ? fs.readFileSync(p) : undefined);
  const ca = read(f.tls?.caFile);
  const cert = read(f.tls?.certFile);
  const key = read(f.tls?.keyFile);
  return {
    url,
    protocolVersion: f.mqttVersion,
    connectTimeout: 10_000,
    keepalive: 60,
    ...(f.username ? { username: f.username } : {}),
    ...(f.passwordFile ? { password: fs.readFileSync(f.passwordFile, 'utf8').trim() } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}

export function loadIssuers(f: FleetConfig): Map<string, Issuer> {
  const out = new Map<string, Issuer>();
  for (const i of f.issuers) {
    if (out.has(i.id)) throw new OszError('OSZ_E_CONFIG', `fleet.issuers lists ${i.id} twice`);
    out.set(i.id, { key: readPublicKey(i.publicKeyFile), role: i.role });
  }
  return out;
}

export interface FleetParts {
  bus: { on(owner: string, pattern: string, fn: (e: EventEnvelope) => void): () => void; removeOwner(owner: string): void };
  config: FleetConfig;
  deviceId: string;
  board: string;
  version: string;
  plane: ControlPlane;
  store: Store;
  dashboard?: { get(): Dashboard; watch(fn: (changed: Section[]) => void): () => void };
  emit(type: string, data: Record<string, unknown>): void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
}

export function createFleetLink(p: FleetParts): FleetLink {
  const db = p.store.db;
  const out = { link: undefined as FleetLink | undefined };
  const outbox = new FleetOutbox(p.store.outbox, p.store.journal, { connected: () => out.link?.connected === true, publish: (t, m) => out.link?.publishEvent(t, m) ?? Promise.reject(new Error('offline')) });
  const link = new FleetLink({
    outbox,
    telemetry: {
      rules: p.config.telemetry,
      readings: (fn) => {
        const owner = 'fleet:telemetry';
        p.bus.on(owner, 'hal:sensor.*', (e) => {
          const d = e.data as { value?: unknown; unit?: unknown; ts?: unknown };
          if (typeof d.value === 'number') fn(e.type.slice('hal:sensor.'.length), d.value, typeof d.unit === 'string' ? d.unit : '', typeof d.ts === 'number' ? d.ts : Date.now());
        });
        return () => p.bus.removeOwner(owner);
      },
    },
    deviceId: p.deviceId,
    board: p.board,
    version: p.version,
    connectOptions: connectOptions(p.config),
    issuers: new IssuerRegistry(loadIssuers(p.config), p.store.issuers, (m) => p.log.warn(m)),
    call: (op, params, caller) => p.plane.call(op, params, caller),
    opInfo: (name) => {
      const op = p.plane.find(name);
      return op && { role: op.role, remote: op.remote, mutating: op.mutating };
    },
    commands: p.store.commands,
    limits: { maxClockSkewMs: p.config.maxClockSkewMs, maxCommandTtlMs: p.config.maxCommandTtlMs, maxPacketBytes: p.config.maxPacketBytes },
    // an NTP daemon other than systemd-timesyncd may mark its synchronisation elsewhere (clock.ts)
    clock: systemClock(p.config.clockSyncedFile),
    nextSession: () => {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'fleet.session'").get() as { value: string } | undefined;
      const next = (Number(row?.value ?? 0) || 0) + 1;
      db.prepare("INSERT INTO meta (key, value) VALUES ('fleet.session', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(next));
      return next;
    },
    ...(p.dashboard ? { dashboard: p.dashboard } : {}),
    audit: (e, withinMs) => p.store.audit.append({ ts: Date.now(), actor: e.actor, op: e.op, params: e.params ?? {}, outcome: e.outcome, ...(e.code ? { errorCode: e.code } : {}) }, withinMs),
    emit: (type, data) => p.emit(type, data),
    log: p.log,
  });
  out.link = link;
  return link;
}
