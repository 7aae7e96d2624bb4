/**
 * The agent manifest, `agent.json` (DESIGN §3, §12.9). Upstream OpenStarry fields (`identity`,
 * `plugins`) are accepted as they are and unknown keys are kept; the daemon adds runtime, grants,
 * limits, restart policy, env and secrets. The env allow-list (§12.6) is enforced here, at
 * validation, so a manifest that could undo the sandbox never gets installed.
 */
import path from 'node:path';
import * as z from 'zod';
import { OszError } from '../errors';
import { ParseFailure, parseJsonSafe } from '../util/safe-json';
import { envNameRefusal } from './env-policy';

export const MAX_MANIFEST_BYTES = 256 * 1024;
export const AGENT_ID = /^[a-z][a-z0-9-]{0,62}$/;
// The refusal list lives in env-policy.ts (one table for manifests, spawn --env and remote spawns).
export { ENV_NAME, envNameRefusal } from './env-policy';

const relPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.includes('\0'), 'path must not contain NUL')
  .refine((p) => !path.isAbsolute(p), 'path must be relative to the agent folder')
  .refine((p) => !path.normalize(p).split(path.sep).includes('..'), 'path must stay inside the agent folder');

const eventPattern = z.string().max(200).regex(/^[a-z*][a-z0-9_*-]*:[a-z0-9_.*-]+$/, 'event patterns look like "area:thing", with * or ** wildcards');
const name = z.string().min(1).max(128);

const envSchema = z.record(z.string().max(128), z.string().max(4096).refine((v) => !v.includes('\0'), 'env values must not contain NUL')).superRefine((env, ctx) => {
  for (const key of Object.keys(env)) {
    const why = envNameRefusal(key);
    if (why) ctx.addIssue({ code: 'custom', path: [key], message: `env "${key}" refused: ${why}`, params: { code: 'OSZ_E_ENV_REFUSED' } });
  }
});

export const manifestSchema = z
  .looseObject({
    identity: z.looseObject({
      id: z.string().regex(AGENT_ID, 'agent ids are lower-case letters, digits and dashes, starting with a letter, at most 63 characters'),
      name: name.describe('human name'),
      version: z.string().max(64).optional(),
      description: z.string().max(2000).optional(),
    }),
    runtime: z
      .strictObject({
        driver: z.enum(['wasm', 'process', 'worker', 'docker']).optional().describe('follows from module / entry / image when omitted'),
        module: relPath.optional().describe('WebAssembly module (wasm driver)'),
        entry: relPath.optional().describe('Node entry module (process and worker drivers)'),
        image: z.string().max(256).regex(/^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$/, 'an image reference like "registry/name:tag" or "name@sha256:…"').optional().describe('container image (docker driver)'),
        digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'an image id like sha256:<64 hex digits>').optional().describe('docker: the image id to run; agent add records it when absent, so a retagged image does not change what runs'),
        command: z.array(z.string().max(4096)).min(1).max(64).optional().describe("docker: the container's command (default: the image's, or the Node runner when entry is set)"),
        user: z.string().regex(/^[a-z_0-9][a-z0-9_.-]{0,31}(:[a-z_0-9][a-z0-9_.-]{0,31})?$/, 'a user like "1000:1000" or "app"').optional().describe('docker: the container user (default: the agent\'s own uid); never root'),
        args: z.array(z.string().max(4096)).max(64).default([]),
        isolation: z.enum(['shared', 'dedicated']).default('shared').describe('wasm: share a cell with other agents, or get one'),
      })
      .prefault({}),
    singleton: z.boolean().default(false).describe('at most one instance at a time'),
    plugins: z
      .array(z.looseObject({ name: z.string().regex(/^[a-z0-9@][a-z0-9@/._-]{0,127}$/), path: relPath.optional(), config: z.unknown().optional() }))
      .max(64)
      .default([]),
    capabilities: z
      .strictObject({
        hal: z
          .strictObject({
            sensors: z.array(name).max(64).default([]),
            actuators: z.array(name).max(64).default([]),
            cameras: z.array(name).max(16).default([]),
          })
          .prefault({}),
        events: z
          .strictObject({ emit: z.array(eventPattern).max(64).default([]), subscribe: z.array(eventPattern).max(64).default([]) })
          .prefault({}),
        network: z.boolean().default(false).describe('honoured by docker and wasm; not enforced for process agents (Node 20)'),
      })
      .prefault({}),
    limits: z
      .strictObject({
        memoryMb: z.number().int().min(4).max(16_384).default(64),
        callTimeoutMs: z.number().int().min(1).max(600_000).default(200),
        cpuPercent: z.number().min(1).max(400).default(100),
        tokensPerHour: z.number().int().min(0).default(0).describe('0 = unlimited'),
        pids: z.number().int().min(8).max(32_768).default(128).describe('docker: most processes and threads in the container'),
      })
      .prefault({}),
    restart: z
      .strictObject({
        policy: z.enum(['no', 'on-failure', 'always', 'unless-stopped']).default('on-failure'),
        maxRetries: z.number().int().min(0).max(10_000).optional().describe('restarts before the instance fails; default 5 under on-failure, unlimited under always and unless-stopped (capped backoff); an explicit value holds under every policy'),
        backoff: z
          .strictObject({ initialMs: z.number().int().min(10).max(3_600_000).optional(), maxMs: z.number().int().min(10).max(86_400_000).optional() })
          .prefault({}),
      })
      .prefault({}),
    stop: z.strictObject({ graceMs: z.number().int().min(0).max(600_000).optional() }).prefault({}),
    env: envSchema.default({}),
    secrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/)).max(64).default([]).describe('granted secret names, injected as env'),
  })
  .superRefine((m, ctx) => {
    const r = m.runtime;
    // image + entry is a Node agent in a container (the runner runs entry there); else one of them
    const given = (['module', 'entry', 'image'] as const).filter((k) => r[k] !== undefined);
    if (given.length > 1 && !(given.length === 2 && r.image !== undefined && r.entry !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['runtime'], message: `give one of module, entry or image (or image with entry), not ${given.join(' and ')}` });
    }
    if (r.driver && r.driver !== 'docker' && r.image !== undefined) ctx.addIssue({ code: 'custom', path: ['runtime', 'image'], message: `runtime.image is for the docker driver, not "${r.driver}"` });
    const need: Record<string, 'module' | 'entry' | 'image'> = { wasm: 'module', process: 'entry', worker: 'entry', docker: 'image' };
    if (r.driver && r[need[r.driver] ?? 'entry'] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['runtime', need[r.driver] ?? 'entry'], message: `driver "${r.driver}" needs runtime.${need[r.driver] ?? 'entry'}` });
    }
    if (!r.driver && given.length === 0) ctx.addIssue({ code: 'custom', path: ['runtime'], message: 'give runtime.module (wasm), runtime.entry (node) or runtime.image (docker)' });
    for (const name of m.secrets) {
      const why = envNameRefusal(name);
      if (why) ctx.addIssue({ code: 'custom', path: ['secrets'], message: `secret "${name}" cannot be injected: ${why}` });
      if (Object.hasOwn(m.env, name)) ctx.addIssue({ code: 'custom', path: ['env', name], message: `"${name}" is both an env value and a granted secret` });
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type DriverName = 'wasm' | 'process' | 'worker' | 'docker';

export function driverOf(m: Manifest): DriverName {
  if (m.runtime.driver) return m.runtime.driver;
  if (m.runtime.module) return 'wasm';
  if (m.runtime.image) return 'docker';
  return 'process';
}

/** Parses and validates manifest text; every problem is reported at once, each with its key path. */
export function parseManifest(text: string, source: string): Manifest {
  let raw: unknown;
  try {
    raw = parseJsonSafe(text, MAX_MANIFEST_BYTES);
  } catch (err) {
    const msg = err instanceof ParseFailure ? err.message : String(err);
    throw new OszError('OSZ_E_MANIFEST', `${source}: ${msg}`, { source });
  }
  return validateManifest(raw, source);
}

export function validateManifest(raw: unknown, source: string): Manifest {
  const res = manifestSchema.safeParse(raw);
  if (res.success) return res.data;
  const problems = res.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  const envRefused = res.error.issues.find((i) => i.code === 'custom' && (i as { params?: { code?: string } }).params?.code === 'OSZ_E_ENV_REFUSED');
  const code = envRefused ? 'OSZ_E_ENV_REFUSED' : 'OSZ_E_MANIFEST';
  throw new OszError(code, `${source}: invalid manifest:\n  - ${problems.join('\n  - ')}`, {
    source,
    problems,
    ...(envRefused ? { key: String(envRefused.path[envRefused.path.length - 1]) } : {}),
  });
}
