/**
 * Loads `boards/<name>.yaml` (DESIGN §5): parses it safely, follows `extends` (devices merge by
 * id, maps by key, the child wins), validates the schema and the cross-field rules, and reports
 * every problem with the file, the path and the fix. Also picks the profile whose `match` fits
 * /proc/device-tree/model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { HalError } from '../errors';
import { type BoardProfile, profileSchema } from './schema';
import { validateProfile } from './validate';

const MAX_PROFILE_BYTES = 256 * 1024;
const MAX_EXTENDS = 8;

type Raw = Record<string, unknown>;

export function loadProfile(name: string, dirs: readonly string[]): BoardProfile & { file: string } {
  const chain: Array<{ file: string; raw: Raw }> = [];
  for (let next: string | undefined = name; next !== undefined; ) {
    if (chain.length >= MAX_EXTENDS) throw profileError(chain[0]?.file ?? name, [`extends: more than ${MAX_EXTENDS} levels (a cycle?): ${chain.map((c) => path.basename(c.file)).join(' → ')}`]);
    const file = findFile(next, dirs);
    if (chain.some((c) => c.file === file)) throw profileError(chain[0]?.file ?? file, [`extends: cycle through ${path.basename(file)}`]);
    const raw = readRaw(file);
    chain.push({ file, raw });
    next = typeof raw.extends === 'string' ? raw.extends : undefined;
  }
  const top = chain[0];
  if (!top) throw profileError(name, ['no profile']);
  const merged = chain.reverse().reduce<Raw>((acc, c) => mergeProfiles(acc, c.raw), {});
  merged.name = top.raw.name;
  if (top.raw.extends !== undefined) merged.extends = top.raw.extends;
  const parsed = profileSchema.safeParse(merged);
  if (!parsed.success) throw profileError(top.file, parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`));
  if (parsed.data.name !== name) throw profileError(top.file, [`name: "${parsed.data.name}" does not match the file name "${name}"`]);
  const problems = validateProfile(parsed.data);
  if (problems.length) throw profileError(top.file, problems.map((p) => `${p.path}: ${p.message}; fix: ${p.fix}`));
  return { ...parsed.data, file: top.file };
}

/** The profile whose `match.model` is a prefix of the device-tree model, or undefined. */
export function detectProfile(model: string, dirs: readonly string[]): string | undefined {
  const clean = model.replace(/\0/g, '').trim();
  for (const dir of dirs) {
    let files: string[] = [];
    try {
      files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        const raw = readRaw(path.join(dir, f));
        const models = (raw.match as { model?: unknown } | undefined)?.model;
        if (Array.isArray(models) && models.some((m) => typeof m === 'string' && clean.startsWith(m))) return f.slice(0, -5);
      } catch {
        /* a broken profile is reported when it is loaded by name */
      }
    }
  }
  return undefined;
}

function findFile(name: string, dirs: readonly string[]): string {
  if (!/^[a-z][a-z0-9_-]{0,62}$/.test(name)) throw new HalError('HAL_E_PROFILE', `board name "${name.slice(0, 80)}" is not a valid profile name`);
  for (const dir of dirs) {
    const f = path.join(dir, `${name}.yaml`);
    if (fs.existsSync(f)) return f;
  }
  throw new HalError('HAL_E_PROFILE', `no board profile "${name}" in ${dirs.join(', ')}`, { board: name });
}

function readRaw(file: string): Raw {
  const st = fs.statSync(file);
  if (st.size > MAX_PROFILE_BYTES) throw profileError(file, [`file is ${st.size} bytes; the limit is ${MAX_PROFILE_BYTES}`]);
  const doc = parseDocument(fs.readFileSync(file, 'utf8'), { uniqueKeys: true, strict: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) throw profileError(file, [`line ${first.linePos?.[0]?.line ?? '?'}: ${first.message.split('\n')[0] ?? ''}`]);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw profileError(file, ['the file must hold a mapping']);
  if (JSON.stringify(value).includes('"__proto__"')) throw profileError(file, ['refused key "__proto__"']);
  return value as Raw;
}

/** Child over parent: devices merge by id, maps by key, everything else is replaced. */
function mergeProfiles(parent: Raw, child: Raw): Raw {
  const out: Raw = { ...parent };
  for (const [k, v] of Object.entries(child)) {
    const pv = parent[k];
    if (k === 'devices' && Array.isArray(v) && Array.isArray(pv)) {
      const byId = new Map<unknown, unknown>(pv.map((d) => [(d as Raw).id, d]));
      for (const d of v) byId.set((d as Raw).id, d);
      out[k] = [...byId.values()];
    } else if (isMap(v) && isMap(pv) && k !== 'match') {
      out[k] = { ...pv, ...v };
    } else {
      out[k] = v;
    }
  }
  return out;
}

const isMap = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

function profileError(file: string, problems: string[]): HalError {
  return new HalError('HAL_E_PROFILE', `${file}: invalid board profile:\n  - ${problems.join('\n  - ')}`, { file, problems });
}
