/**
 * Runs the real bundled daemon (bin/openstarryd) on a temporary home and the real CLI against
 * it. Tests talk to it only as a user would: through openstarryctl, the socket and HTTP.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ensureAccounts, shippedArgv, shippedEnv, unitSettings } from './shipped';
import { REPO, tmpDir, waitFor } from './tmp';
import type { ServiceSettings } from './unit-file';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningDaemon {
  home: string;
  socket: string;
  http: string;
  proc: ChildProcess;
  output: string[];
  cli(args: string[], opts?: { input?: string }): Promise<CliResult>;
  /** runs the CLI with --json and parses stdout */
  json<T = unknown>(args: string[]): Promise<T>;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((p) => p.kill('SIGKILL')));

export interface StartOptions {
  config?: Record<string, unknown>;
  home?: string;
  env?: NodeJS.ProcessEnv;
  args?: string[];
  /** false: leave the home untouched (a read-only home) and pass --http as a flag */
  writeConfig?: boolean;
  /** start under `ulimit -v` of this many KiB (through the real launcher) */
  ulimitV?: number;
  /** start under this umask (through `sh -c 'umask …; exec …'`), e.g. 0 for the most careless shell */
  umask?: number;
  /**
   * run as images/systemd/openstarryd.service does (its user, groups, capabilities, umask,
   * no_new_privs and syscall filter; test/helpers/shipped.ts); the home is owned by that user
   */
  asShipped?: boolean | ServiceSettings;
}

export async function startDaemon(opts: StartOptions = {}): Promise<RunningDaemon> {
  const home = opts.home ?? path.join(tmpDir('osd-'), 'h');
  const extra = [...(opts.args ?? [])];
  if (opts.writeConfig === false) {
    extra.push('--http', '127.0.0.1:0');
  } else {
    fs.mkdirSync(home, { recursive: true });
    const config = { http: { listen: '127.0.0.1:0' }, ...(opts.config ?? {}) };
    fs.writeFileSync(path.join(home, 'openstarryd.yaml'), YAML.stringify(config));
  }
  const launcher = path.join(REPO, 'bin/openstarryd');
  let argv = opts.ulimitV === undefined ? [launcher, '--home', home, ...extra] : ['/bin/sh', '-c', `ulimit -v ${opts.ulimitV} && exec "$0" "$@"`, launcher, '--home', home, ...extra];
  if (opts.umask !== undefined) argv = ['/bin/sh', '-c', `umask ${opts.umask.toString(8).padStart(4, '0')} && exec "$0" "$@"`, ...argv];
  let env: NodeJS.ProcessEnv = { ...process.env, ...(opts.env ?? {}) };
  if (opts.asShipped) {
    // StateDirectory=openstarry: the home belongs to the unit's user, 0750
    const unit = opts.asShipped === true ? unitSettings() : opts.asShipped;
    const { uid, gid } = ensureAccounts(unit);
    fs.mkdirSync(home, { recursive: true });
    for (const f of [home, ...fs.readdirSync(home).map((n) => path.join(home, n))]) fs.chownSync(f, uid, gid);
    fs.chmodSync(home, 0o750);
    argv = shippedArgv(unit, argv, path.dirname(home));
    env = { ...shippedEnv(unit), ...(opts.env ?? {}) };
  }
  const proc = spawn(argv[0] ?? launcher, argv.slice(1), {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const output: string[] = [];
  let exitCode: number | null | undefined;
  proc.on('exit', (code) => {
    exitCode = code;
    running.delete(proc);
  });
  for (const s of [proc.stdout, proc.stderr]) s?.on('data', (d: Buffer) => output.push(...String(d).split('\n').filter(Boolean)));
  const ready = await waitFor('daemon ready', () => {
    if (exitCode !== undefined) throw new Error(`daemon exited with ${exitCode}:\n${output.join('\n')}`);
    return output.find((l) => l.includes('daemon: ready:'));
  });
  const http = /http (\S+),/.exec(ready)?.[1] ?? '';
  const socket = /control socket (\S+),/.exec(ready)?.[1] ?? '';
  const cli = (args: string[], o: { input?: string } = {}): Promise<CliResult> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, [path.join(REPO, 'dist/openstarryctl.mjs'), '--home', home, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
      if (o.input !== undefined) child.stdin?.end(o.input);
      else child.stdin?.end();
    });
  return {
    home,
    socket,
    http,
    proc,
    output,
    cli,
    async json<T>(args: string[]): Promise<T> {
      const r = await cli([...args, '--json']);
      if (r.code !== 0) throw new Error(`openstarryctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      proc.kill('SIGTERM');
      return waitFor('daemon exit', () => (exitCode !== undefined ? { code: exitCode } : undefined), 30_000).then((r) => r.code);
    },
    async kill9() {
      if (exitCode !== undefined) return;
      proc.kill('SIGKILL');
      await waitFor('daemon killed', () => exitCode !== undefined);
    },
  };
}
