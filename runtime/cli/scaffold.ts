/**
 * `openstarryctl new agent <name> --lang node`: a ready-to-add Node agent folder — agent.json
 * with identity.id = name, an entry module using the SDK's handler shape, the SDK's type
 * declarations for editors, and a README saying how to add and spawn it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_ID } from '../agents/manifest';
import { OszError } from '../errors';
import { packageRoot } from '../util/package-root';

export function scaffoldAgent(name: string, lang: string, parent: string): string {
  if (!AGENT_ID.test(name)) throw new OszError('OSZ_E_INVALID_PARAMS', `agent name "${name.slice(0, 80)}" must be lower-case letters, digits and dashes, starting with a letter`);
  if (lang !== 'node') throw new OszError('OSZ_E_INVALID_PARAMS', `--lang ${lang} is not supported yet; use --lang node`);
  const dir = path.resolve(parent, name);
  if (fs.existsSync(dir)) throw new OszError('OSZ_E_INVALID_PARAMS', `${dir} already exists; choose another name or remove it`);
  fs.mkdirSync(dir, { recursive: true });
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
