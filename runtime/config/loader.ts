/**
 * Loads the daemon config: defaults < config file < fragments (device.yaml) < env < flags
 * (DESIGN §12.5). Every problem in every source is reported at once, each with the key, the
 * source it came from and a fix; nothing is started on a bad config.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OszError } from '../errors';
import { isPlainObject, ParseFailure, parseJsonSafe, parseYamlSafe } from '../util/safe-json';
import { closest } from '../util/suggest';
import { envToKeys } from './env';
import type { DaemonFlags } from './flags';
import { configSchema, type Config } from './schema';
import { keysAt, leafKind } from './schema-walk';

const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ConfigProblem {
  key: string;
  source: string;
  message: string;
}

export interface LoadedConfig {
  config: Config;
  home: string;
  configFile: string | undefined;
  fragments: string[];
  /** dotted key → the source that set it last */
  origins: Record<string, string>;
}

export interface LoadOptions {
  flags: DaemonFlags;
  env: NodeJS.ProcessEnv;
  isRoot?: boolean;
  homedir?: string;
}

export class ConfigError extends OszError {
  constructor(readonly problems: ConfigProblem[]) {
    super('OSZ_E_CONFIG', `invalid config:\n${problems.map((p) => `  - ${p.key}: ${p.message} (from ${p.source})`).join('\n')}`, {
      problems,
    });
  }
}

export function resolveHome(flags: Pick<DaemonFlags, 'home'>, env: NodeJS.ProcessEnv, isRoot: boolean, homedir: string): string {
  const chosen = flags.home ?? env.OPENSTARRYD_HOME;
  if (chosen) return path.resolve(chosen);
  return isRoot ? '/var/lib/openstarry' : path.join(homedir, '.openstarry');
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  const home = resolveHome(opts.flags, opts.env, isRoot, opts.homedir ?? os.homedir());
  const problems: ConfigProblem[] = [];
  const merged: Record<string, unknown> = {};
  const origins: Record<string, string> = {};

  const configFile = opts.flags.config ? path.resolve(opts.flags.config) : path.join(home, 'openstarryd.yaml');
  const fileLoaded = readConfigFile(configFile, opts.flags.config !== undefined, problems);
  if (fileLoaded) mergeInto(merged, fileLoaded, configFile, origins, '');

  const fragments = [...new Set([path.join(path.dirname(configFile), 'device.yaml'), path.join(home, 'device.yaml')])];
  const usedFragments: string[] = [];
  for (const fragment of fragments) {
    const data = readConfigFile(fragment, false, problems);
    if (data) {
      mergeInto(merged, data, fragment, origins, '');
      usedFragments.push(fragment);
    }
  }

  for (const { name, key, raw } of envToKeys(opts.env)) setTyped(merged, key, raw, `env ${name}`, origins, problems);
  for (const [key, raw] of Object.entries(opts.flags.overrides)) setTyped(merged, key, raw, `flag for ${key}`, origins, problems);

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const base = issue.path.map(String);
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const key = [...base, k].join('.');
          problems.push({ key, source: origins[key] ?? 'config', message: unknownKeyMessage(base, k) });
        }
      } else {
        const key = base.join('.') || '(root)';
        problems.push({ key, source: originOf(key, origins), message: issue.message });
      }
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return { config: result.data, home, configFile: fileLoaded ? configFile : undefined, fragments: usedFragments, origins };
}

function readConfigFile(file: string, required: boolean, problems: ConfigProblem[]): Record<string, unknown> | undefined {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    if (st.size > MAX_CONFIG_BYTES) {
      problems.push({ key: '(file)', source: file, message: `file is ${st.size} bytes; the limit is ${MAX_CONFIG_BYTES}` });
      return undefined;
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    problems.push({ key: '(file)', source: file, message: `cannot read: ${(err as Error).message}` });
    return undefined;
  }
  try {
    const data = parseYamlSafe(text, MAX_CONFIG_BYTES);
    if (!isPlainObject(data)) {
      problems.push({ key: '(root)', source: file, message: 'the file must hold a YAML mapping of keys' });
      return undefined;
    }
    return data;
  } catch (err) {
    const line = err instanceof ParseFailure && err.line ? `:${err.line}` : '';
    problems.push({ key: '(file)', source: `${file}${line}`, message: (err as Error).message });
    return undefined;
  }
}

function mergeInto(target: Record<string, unknown>, src: Record<string, unknown>, source: string, origins: Record<string, string>, prefix: string): void {
  for (const [k, v] of Object.entries(src)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v)) {
      const existing = target[k];
      const child = isPlainObject(existing) ? existing : {};
      target[k] = child;
      mergeInto(child, v, source, origins, key);
    } else {
      target[k] = v;
      origins[key] = source;
    }
  }
}

function setTyped(
  target: Record<string, unknown>,
  key: string,
  raw: string,
  source: string,
  origins: Record<string, string>,
  problems: ConfigProblem[],
): void {
  const parts = key.split('.');
  const kind = leafKind(configSchema, parts);
  if (kind === undefined) {
    problems.push({ key, source, message: unknownKeyMessage(parts.slice(0, -1), parts[parts.length - 1] ?? '') });
    return;
  }
  let value: unknown = raw;
  if (kind === 'number') {
    value = raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  } else if (kind === 'boolean') {
    value = raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  } else if (kind === 'array' || kind === 'object') {
    try {
      value = parseJsonSafe(raw, MAX_CONFIG_BYTES);
    } catch (err) {
      problems.push({ key, source, message: `expected JSON: ${(err as Error).message}` });
      return;
    }
  }
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = isPlainObject(next) ? next : (node[part] = {});
  }
  node[parts[parts.length - 1] ?? ''] = value;
  origins[key] = source;
}

function unknownKeyMessage(parent: string[], key: string): string {
  const known = keysAt(configSchema, parent);
  if (known.includes(`${key}File`)) return `secrets are only read from files: put the value in a file and set "${[...parent, `${key}File`].join('.')}"`;
  const guess = closest(key, known);
  return `unknown key${guess ? `; did you mean "${[...parent, guess].join('.')}"?` : ''}`;
}

function originOf(key: string, origins: Record<string, string>): string {
  for (let k = key; k; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
    const o = origins[k];
    if (o) return o;
  }
  return 'defaults';
}
