/**
 * `openstarryctl new agent <name> --lang node|as`: a ready-to-add agent folder with agent.json
 * (identity.id = name) and a README saying how to add and spawn it.
 * - node: an entry module using the SDK's handler shape and the SDK's type declarations;
 * - as (AssemblyScript, the WASM driver): assembly/index.ts, a copy of the AssemblyScript SDK in
 *   assembly/openstarry/, asconfig.json and package.json; `buildAsAgent` compiles it when the
 *   AssemblyScript compiler is installed beside openstarryd (a development checkout).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_ID } from '../agents/manifest';
import { OszError } from '../errors';
import { packageRoot } from '../util/package-root';

export function scaffoldAgent(name: string, lang: string, parent: string): string {
  if (!AGENT_ID.test(name)) throw new OszError('OSZ_E_INVALID_PARAMS', `agent name "${name.slice(0, 80)}" must be lower-case letters, digits and dashes, starting with a letter`);
  if (lang !== 'node' && lang !== 'as' && lang !== 'assemblyscript') throw new OszError('OSZ_E_INVALID_PARAMS', `--lang ${lang.slice(0, 32)} is not supported; use --lang node or --lang as`);
  const dir = path.resolve(parent, name);
  if (fs.existsSync(dir)) throw new OszError('OSZ_E_INVALID_PARAMS', `${dir} already exists; choose another name or remove it`);
  fs.mkdirSync(dir, { recursive: true });
  if (lang !== 'node') return scaffoldAs(name, dir);
  const manifest = {
    $schema: 'https://openstarry.dev/schema/agent.schema.json',
    identity: { id: name, name: title(name), version: '0.1.0' },
    runtime: { driver: 'process', entry: 'main.mjs' },
    capabilities: { hal: { sensors: [], actuators: [], cameras: [] }, events: { emit: [`${name}:*`], subscribe: [`timer:*`] } },
    limits: { memoryMb: 64 },
    restart: { policy: 'on-failure', maxRetries: 5 },
    env: {},
  };
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'main.mjs'), entrySource(name));
  const types = path.join(packageRoot(), 'dist', 'sdk', 'types.d.ts');
  if (fs.existsSync(types)) fs.copyFileSync(types, path.join(dir, 'openstarry.d.ts'));
  fs.writeFileSync(
    path.join(dir, 'README.md'),
    `# ${title(name)}\n\nAn OpenStarry agent.\n\n    openstarryctl agent add .\n    openstarryctl spawn ${name}\n    openstarryctl logs ${name} -f\n\nThe protocol the runner speaks for you is in docs/agent-protocol.md.\n`,
  );
  return dir;
}

function title(name: string): string {
  return name
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

function entrySource(name: string): string {
  return `// @ts-check
/** @typedef {import('./openstarry').AgentDefinition} AgentDefinition */

let ticks = 0;

/** @type {AgentDefinition} */
export default {
  async init(ctx) {
    ctx.log.info(\`${name} starting as \${ctx.instance}\`);
    // spawned by a rule, ctx.trigger is the event that woke it (e.g. ctx.trigger.data.branch); else null
    if (ctx.trigger) ctx.log.info(\`woken by \${ctx.trigger.type}\`);
    await ctx.timers.set('tick', 5000, { repeat: true });
  },
  async onEvent(event, ctx) {
    if (event.type === 'timer:tick') {
      ticks++;
      await ctx.emit('${name}:tick', { ticks });
    }
  },
  snapshot() {
    return { ticks };
  },
  async stop(ctx) {
    ctx.log.info('${name} stopping');
  },
};
`;
}

const SDK_FILES = ['index.ts', 'host.ts', 'json.ts'];

function sdkDir(): string {
  const built = path.join(packageRoot(), 'dist', 'sdk', 'assemblyscript');
  return fs.existsSync(built) ? built : path.join(packageRoot(), 'runtime', 'sdk', 'assemblyscript');
}

function scaffoldAs(name: string, dir: string): string {
  const manifest = {
    $schema: 'https://openstarry.dev/schema/agent.schema.json',
    identity: { id: name, name: title(name), version: '0.1.0' },
    runtime: { driver: 'wasm', module: `build/${name}.wasm` },
    capabilities: { hal: { sensors: [], actuators: [], cameras: [] }, events: { emit: [`${name}:*`], subscribe: [] } },
    limits: { memoryMb: 4, callTimeoutMs: 200 },
    restart: { policy: 'on-failure', maxRetries: 5 },
  };
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.mkdirSync(path.join(dir, 'assembly', 'openstarry'), { recursive: true });
  for (const f of SDK_FILES) fs.copyFileSync(path.join(sdkDir(), f), path.join(dir, 'assembly', 'openstarry', f));
  fs.writeFileSync(path.join(dir, 'assembly', 'index.ts'), asSource(name));
  const base = JSON.parse(fs.readFileSync(path.join(sdkDir(), 'asconfig.json'), 'utf8')) as { options: Record<string, unknown> };
  fs.writeFileSync(path.join(dir, 'asconfig.json'), JSON.stringify({ entries: ['assembly/index.ts'], options: { ...base.options, outFile: `build/${name}.wasm` } }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, scripts: { build: 'asc --config asconfig.json' }, devDependencies: { assemblyscript: '^0.28.20' } }, null, 2) + '\n');
  fs.writeFileSync(
    path.join(dir, 'README.md'),
    `# ${title(name)}\n\nAn OpenStarry agent in AssemblyScript, run by the WASM driver.\n\n    npm install && npm run build      # builds build/${name}.wasm\n    openstarryctl agent add .\n    openstarryctl spawn ${name}\n    openstarryctl logs ${name} -f\n\nThe host functions are in docs/agent-abi.md; assembly/openstarry/ is the SDK.\n`,
  );
  return dir;
}

/** Compiles a scaffolded AssemblyScript agent with the compiler installed beside openstarryd; false when there is none. */
export async function buildAsAgent(dir: string): Promise<boolean> {
  let asc: { main(argv: string[], opts: object): Promise<{ error: Error | null; stderr: { toString(): string } }> };
  try {
    asc = ((await import('assemblyscript/asc')) as unknown as { default: typeof asc }).default;
  } catch {
    return false;
  }
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    const { error, stderr } = await asc.main(['--config', 'asconfig.json'], {});
    if (error) throw new OszError('OSZ_E_INVALID_PARAMS', `asc failed: ${error.message}\n${stderr.toString()}`);
  } finally {
    process.chdir(cwd);
  }
  return true;
}

function asSource(name: string): string {
  return `// ${title(name)}: an OpenStarry WASM agent (docs/agent-abi.md). Build: npm run build.
import { Event, events, emit, JsonObject, json, lifecycle, log, state, timer } from "./openstarry/index";
export { alloc, on_event, restore } from "./openstarry/index";

let ticks: i32 = 0;

export function init(): void {
  events.on(handle);
  lifecycle.onRestore(onRestore);
  timer.every("tick", 5000);
  log.info("${name} started");
}

function onRestore(snapshot: string): void {
  const v = json.get(snapshot, "ticks");
  if (v != null) ticks = I32.parseInt(v);
}

function handle(e: Event): void {
  if (e.type == "timer:tick") {
    ticks++;
    emit("${name}:tick", new JsonObject().int("ticks", ticks).toString());
    state.set(new JsonObject().int("ticks", ticks).toString());
  }
}
`;
}
