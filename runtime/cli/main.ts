/**
 * `openstarryctl`: a thin client of the control plane. Global flags: --socket, --home, --json.
 * Exit codes: 0 ok, 1 the operation failed, 2 usage, 3 daemon unreachable.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { OszError, toOszError } from '../errors';
import { closest } from '../util/suggest';
import { ControlClient } from './client';
import { type CliIO, VERBS } from './commands';
import { OFFLINE_VERBS, type OfflineVerb } from './remote-commands';
import { discoverSocket } from './discover';
import { buildAsAgent, scaffoldAgent } from './scaffold';

const GLOBAL = {
  socket: { type: 'string' },
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  const rows = Object.entries(VERBS).map(([, v]) => `  ${v.usage.padEnd(58)} ${v.summary}`);
  return [
    'Usage: openstarryctl [--socket PATH] [--home DIR] [--json] <verb> …',
    '',
    ...rows,
    `  ${'new agent <name> --lang node'.padEnd(58)} scaffold an agent folder in the current directory`,
    ...Object.values(OFFLINE_VERBS).map((v) => `  ${v.usage.padEnd(58)} ${v.summary}`),
    '',
    'The daemon is found through --socket, OPENSTARRY_SOCKET, --home / OPENSTARRYD_HOME, /run/openstarry, ~/.openstarry.',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const verbIndex = argv.findIndex((a, i) => !a.startsWith('-') && !['--socket', '--home'].includes(argv[i - 1] ?? ''));
  const verbName = verbIndex >= 0 ? (argv[verbIndex] ?? '') : '';
  if (!verbName || verbName === 'help' || argv.includes('--help') || argv.includes('-h')) {
    io.out(usage());
    return verbName || argv.length ? 0 : 2;
  }
  if (verbName === 'new') return runNew(argv.slice(verbIndex + 1), io);
  const offline = OFFLINE_VERBS[verbName];
  if (offline) return runOffline(verbName, offline, argv, verbIndex, io);
  const verb = VERBS[verbName];
  if (!verb) {
    const guess = closest(verbName, [...Object.keys(VERBS), ...Object.keys(OFFLINE_VERBS), 'new']);
    io.err(`openstarryctl: unknown verb "${verbName}"${guess ? `; did you mean "${guess}"?` : ''}\n\n${usage()}`);
    return 2;
  }
  const parsed = parseVerbArgs(verbName, verb, argv, verbIndex, io);
  if (!parsed) return 2;
  const { socket, home, json } = parsed.values as { socket?: string; home?: string; json?: boolean };
  let client: ControlClient | undefined;
  try {
    const socketPath = discoverSocket({ ...(socket ? { socket } : {}), ...(home ? { home } : {}), env });
    client = await ControlClient.connect(socketPath);
    return await verb.run(client, { positionals: parsed.positionals, flags: parsed.values, json: json === true }, io);
  } catch (err) {
    return reportError(err, json === true, io);
  } finally {
    client?.close();
  }
}

/** Verbs that talk to a broker or the disk, not to a local daemon. */
async function runOffline(name: string, verb: OfflineVerb, argv: string[], verbIndex: number, io: CliIO): Promise<number> {
  const parsed = parseVerbArgs(name, verb, argv, verbIndex, io);
  if (!parsed) return 2;
  const json = parsed.values.json === true;
  try {
    return await verb.run({ positionals: parsed.positionals, flags: parsed.values, json }, io);
  } catch (err) {
    return reportError(err, json, io, false);
  }
}

/** The global flags and the verb's own, or undefined after printing what is wrong with them. */
function parseVerbArgs(name: string, verb: { usage: string; flags?: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> }, argv: string[], verbIndex: number, io: CliIO) {
  try {
    return parseArgs({ args: [...argv.slice(0, verbIndex), ...argv.slice(verbIndex + 1)], options: { ...GLOBAL, ...(verb.flags ?? {}) }, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`openstarryctl ${name}: ${(err as Error).message}\nusage: openstarryctl ${verb.usage}`);
    return undefined;
  }
}

/** Prints an error with its code and hint (or as JSON); the exit code: 3 no daemon (verbs that need one), 2 usage, 1 otherwise. */
function reportError(err: unknown, json: boolean, io: CliIO, daemonVerb = true): number {
  const e = toOszError(err);
  if (json) io.err(JSON.stringify({ error: e.toJSON() }));
  else io.err(`openstarryctl: ${e.code}: ${e.message}\n  hint: ${e.hint}`);
  return daemonVerb && e.code === 'OSZ_E_DAEMON_UNREACHABLE' ? 3 : e.code === 'OSZ_E_INVALID_PARAMS' && e.message.startsWith('usage:') ? 2 : 1;
}

async function runNew(args: string[], io: CliIO): Promise<number> {
  try {
    const parsed = parseArgs({ args, options: { lang: { type: 'string', default: 'node' }, dir: { type: 'string', default: '.' } }, allowPositionals: true, strict: true });
    const [kind, name] = parsed.positionals;
    if (kind !== 'agent' || !name) throw new OszError('OSZ_E_INVALID_PARAMS', 'usage: openstarryctl new agent <name> --lang node|as');
    const dir = scaffoldAgent(name, parsed.values.lang, parsed.values.dir);
    io.out(`created ${dir}`);
    if (parsed.values.lang !== 'node') {
      if (await buildAsAgent(dir)) io.out(`built ${path.join(dir, 'build', `${name}.wasm`)}`);
      else io.out(`build it: cd ${dir} && npm install && npm run build`);
    }
    io.out(`next: openstarryctl agent add ${dir} && openstarryctl spawn ${name}`);
    return 0;
  } catch (err) {
    const e = toOszError(err);
    io.err(`openstarryctl: ${e.code}: ${e.message}`);
    return 2;
  }
}
