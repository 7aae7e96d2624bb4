/**
 * Builds what a driver needs to start one instance: the environment (DESIGN §12.6: built from the
 * allow-list, never inherited), plugin mounts from the install copy or registered plugins, and
 * the agent's data dir, owned by the agent's uid when agents run under their own uid.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import type { AgentRecord } from '../store/agents-repo';
import type { PluginsRepo } from '../store/plugins-repo';
import type { SecretsRepo } from '../store/secrets-repo';
import type { LaunchSpec, PluginMount } from './drivers/driver';
import { envNameRefusal } from './env-policy';
import type { Manifest } from './manifest';
import type { EventEnvelope } from '../bus/envelope';

export interface SpawnOptions {
  /** extra env for this instance, under the same allow-list as the manifest */
  env?: Record<string, string>;
  /** the event a rule spawned this instance for: its lifecycle events and emits continue that chain (loop protection) */
  cause?: { id: string; depth: number };
  /** the rule that spawned it and its timeout's deadline (wall ms): its run survives restarts (issue 17) */
  rule?: { id: string; deadline?: number };
  /** the whole event a rule spawned this instance for, size-capped (trigger.ts); kept with the instance's options in SQLite, so a restart hands it on again */
  trigger?: EventEnvelope;
}

export interface SpecInputs {
  instanceId: string;
  agent: AgentRecord;
  manifest: Manifest;
  options: SpawnOptions;
  dataRoot: string;
  separateUid: boolean;
  heartbeatMs: number;
  plugins: PluginsRepo;
  secrets: SecretsRepo;
}

export function validateSpawnEnv(env: unknown): Record<string, string> {
  if (env === undefined) return {};
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new OszError('OSZ_E_INVALID_PARAMS', 'env must be an object of NAME: value');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
    const why = envNameRefusal(k);
    if (why) throw new OszError('OSZ_E_ENV_REFUSED', `env "${k.slice(0, 128)}" refused: ${why}`, { key: k.slice(0, 128) });
    if (typeof v !== 'string' || v.length > 4096 || v.includes('\0')) throw new OszError('OSZ_E_INVALID_PARAMS', `env "${k}" must be a string of at most 4096 characters`);
    out[k] = v;
  }
  return out;
}

export function buildLaunchSpec(i: SpecInputs): { spec: LaunchSpec; secretValues: string[] } {
  const dataDir = ensureDataDir(i.dataRoot, i.agent.id, i.separateUid ? (i.agent.uid ?? undefined) : undefined);
  const secrets = i.secrets.resolve(i.manifest.secrets);
  const entry = i.manifest.runtime.entry ?? i.manifest.runtime.module ?? '';
  const token = crypto.randomBytes(24).toString('base64url');
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dataDir,
    LANG: 'C.UTF-8',
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    ...i.manifest.env,
    ...validateSpawnEnv(i.options.env),
    ...secrets,
    OPENSTARRY_AGENT_ID: i.agent.id,
    OPENSTARRY_HOME: dataDir,
    OPENSTARRY_INSTANCE: i.instanceId,
    OPENSTARRY_INSTANCE_TOKEN: token,
    OPENSTARRY_ENTRY: path.join(i.agent.storePath, entry),
    OPENSTARRY_HEARTBEAT_MS: String(i.heartbeatMs),
  };
  const spec: LaunchSpec = {
    instanceId: i.instanceId,
    agentId: i.agent.id,
    token,
    manifest: i.manifest,
    installDir: i.agent.storePath,
    dataDir,
    plugins: pluginMounts(i.manifest, i.agent.storePath, i.plugins),
    env,
    ...(i.separateUid && i.agent.uid !== null ? { uid: i.agent.uid } : {}),
    heartbeatMs: i.heartbeatMs,
    ...(i.options.trigger ? { trigger: i.options.trigger } : {}),
  };
  return { spec, secretValues: Object.values(secrets).concat(token) };
}

function pluginMounts(manifest: Manifest, installDir: string, plugins: PluginsRepo): PluginMount[] {
  return manifest.plugins.map((p) => ({
    name: p.name,
    path: p.path ? path.join(installDir, p.path) : plugins.require(p.name).storePath,
    ...(p.config !== undefined ? { config: p.config } : {}),
  }));
}

/** `<data>/<agent>`: 0700, owned by the agent's uid when it has one (the daemon runs as root then). */
export function ensureDataDir(dataRoot: string, agentId: string, uid: number | undefined): string {
  fs.mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
  // explicit, whatever the daemon's umask: agents under their own uid must traverse the root
  if ((fs.statSync(dataRoot).mode & 0o777) !== 0o711 && fs.statSync(dataRoot).uid === process.getuid?.()) fs.chmodSync(dataRoot, 0o711);
  const dir = path.join(dataRoot, agentId);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new OszError('OSZ_E_SPAWN_FAILED', `${dir} is not a folder`);
  // only while it is still the daemon's (chmod of the agent's own needs CAP_FOWNER, which the daemon lacks)
  if ((st.mode & 0o777) !== 0o700 && st.uid === process.getuid?.()) fs.chmodSync(dir, 0o700);
  if (uid !== undefined && st.uid !== uid) fs.chownSync(dir, uid, uid);
  return dir;
}
