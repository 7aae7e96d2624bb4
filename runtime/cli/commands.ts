/**
 * The CLI's verbs. Each verb is a thin adapter: it turns arguments into one operation call
 * (or two for `spawn <path>`), and prints the result as a table or, with --json, as JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import { type TraceEvent, traceHeader, traceLine } from '../../hal/trace';
import { duration, table, when } from './format';
import { RULE_VERBS } from './rules-commands';
import { need, print, type Verb } from './verb';

export type { CliIO } from './verb';

interface Status {
  instance: string;
  agent: string;
  driver: string;
  state: string;
  osPid: number | null;
  restarts: number;
  uptimeMs: number | null;
  reason: string | null;
  exitCode: number | null;
  exitSignal: string | null;
  cpuPercent: number | null;
  rssBytes: number | null;
}

interface HalDevice {
  id: string;
  kind: string;
  driver: string;
  status: string;
  detail?: string;
  state?: string;
  owner?: string | null;
  commands?: string[];
  channels?: Record<string, { value: number | null; unit: string }>;
}

const readings = (channels: NonNullable<HalDevice['channels']>): string =>
  Object.entries(channels)
    .map(([k, v]) => `${k} ${v.value ?? '-'}${v.unit === 'bool' ? '' : ` ${v.unit}`}`)
    .join(', ');

interface LogLine {
  ts: number;
  instance: string;
  stream: string;
  level: string;
  msg: string;
}

function looksLikePath(arg: string): boolean {
  return arg.includes('/') || arg === '.' || arg === '..' || arg.endsWith('.json') || fs.existsSync(arg);
}

function parseEnv(list: unknown): Record<string, string> | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const item of list as string[]) {
    const i = item.indexOf('=');
    if (i <= 0) throw new OszError('OSZ_E_INVALID_PARAMS', `--env takes NAME=value, got "${item}"`);
    env[item.slice(0, i)] = item.slice(i + 1);
  }
  return env;
}

function formatLog(l: LogLine, many: boolean): string {
  return `${when(l.ts)} ${many ? `${l.instance} ` : ''}${l.stream === 'agent' ? l.level : l.stream} ${l.msg}`;
}

export const VERBS: Record<string, Verb> = {
  spawn: {
    usage: 'spawn <agent-id | path> [--env NAME=value]…',
    summary: 'start a new instance (a path is installed first); prints the instance id last',
    flags: { env: { type: 'string', multiple: true } },
    async run(client, a, io) {
      const [target = ''] = need(a, 1, this.usage);
      let agent = target;
      if (looksLikePath(target)) {
        const added = (await client.call('agents.add', { path: path.resolve(target) })) as { id: string };
        agent = added.id;
      }
      const env = parseEnv(a.flags.env);
      const res = (await client.call('agents.spawn', { agent, ...(env ? { env } : {}) })) as { instance: string; state: string; reason: string | null };
      if (res.state === 'failed') {
        io.err(`openstarryctl: ${agent} failed to start: ${res.reason ?? 'see its log'}\n  hint: openstarryctl logs ${res.instance}`);
        if (a.json) io.out(JSON.stringify(res, null, 2));
        return 1;
      }
      return print(io, a, res, () => `spawned ${agent} (${res.state}): ${res.instance}`);
    },
  },
  kill: {
    usage: 'kill <instance | agent> [--signal SIGTERM|SIGKILL] [--grace MS]',
    summary: 'stop an instance, or every instance of an agent, for good',
    flags: { signal: { type: 'string', short: 's' }, grace: { type: 'string' } },
    async run(client, a, io) {
      const [target = ''] = need(a, 1, this.usage);
      const sig = typeof a.flags.signal === 'string' ? a.flags.signal.toUpperCase().replace(/^(?!SIG)/, 'SIG') : 'SIGTERM';
      const grace = typeof a.flags.grace === 'string' ? Number(a.flags.grace) : undefined;
      const res = (await client.call('agents.kill', { instance: target, signal: sig, ...(grace !== undefined ? { graceMs: grace } : {}) })) as { killed: string[] };
      return print(io, a, res, () => `killed ${res.killed.join(', ')}`);
    },
  },
  signal: {
    usage: 'signal <instance> <SIGNAL>',
    summary: 'deliver a signal (HUP, USR1, …) and change nothing else',
    async run(client, a, io) {
      const [instance = '', sig = ''] = need(a, 2, this.usage);
      const res = (await client.call('agents.signal', { instance, signal: sig })) as { delivered: boolean };
      return print(io, a, res, () => (res.delivered ? `delivered ${sig} to ${instance}` : `${instance} was already gone`));
    },
  },
  ps: {
    usage: 'ps [agent] [--all] [--json]',
    summary: 'list instances',
    flags: { all: { type: 'boolean', short: 'a' } },
    async run(client, a, io) {
      const rows = (await client.call('agents.list', { ...(a.positionals[0] ? { agent: a.positionals[0] } : {}), all: a.flags.all === true })) as Status[];
      return print(io, a, rows, () =>
        table(
          ['INSTANCE', 'AGENT', 'DRIVER', 'STATE', 'PID', 'CPU%', 'MEM', 'RESTARTS', 'UPTIME', 'REASON'],
          rows.map((r) => [
            r.instance,
            r.agent,
            r.driver,
            r.state,
            r.osPid,
            r.cpuPercent,
            r.rssBytes === null ? null : r.rssBytes < 1048576 ? `${Math.round(r.rssBytes / 1024)}K` : `${Math.round(r.rssBytes / 1048576)}M`,
            r.restarts,
            duration(r.uptimeMs),
            r.reason ?? (r.exitCode !== null || r.exitSignal ? `exit ${r.exitCode ?? r.exitSignal}` : null),
          ]),
        ),
      );
    },
  },
  logs: {
    usage: 'logs <instance | agent> [-f] [-n LINES]',
    summary: 'show (and with -f follow) an instance\'s or agent\'s log',
    flags: { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' } },
    async run(client, a, io) {
      const [target = ''] = need(a, 1, this.usage);
      const lines = typeof a.flags.lines === 'string' ? Number(a.flags.lines) : 100;
      const follow = a.flags.follow === true;
      const show = (l: LogLine, many: boolean): void => io.out(a.json ? JSON.stringify(l) : formatLog(l, many));
      if (!follow) {
        const res = (await client.call('agents.logs', { target, lines })) as { instances: string[]; lines: LogLine[] };
        if (a.json) io.out(JSON.stringify(res, null, 2));
        else res.lines.forEach((l) => show(l, res.instances.length > 1));
        return 0;
      }
      const initial = (await client.stream('agents.logs', { target, lines, follow: true }, (l) => show(l as LogLine, true))) as { instances: string[]; lines: LogLine[] };
      initial.lines.forEach((l) => show(l, initial.instances.length > 1));
      await client.closed();
      return 0;
    },
  },
  agent: {
    usage: 'agent add <path> | agent ls | agent rm <id>',
    summary: 'install, list and remove agents',
    async run(client, a, io) {
      const [sub = '', arg] = a.positionals;
      if (sub === 'add' && arg) {
        const res = (await client.call('agents.add', { path: path.resolve(arg) })) as { id: string; hash: string; upgradedFrom?: string };
        return print(io, a, res, () => `${res.upgradedFrom ? 'upgraded' : 'installed'} ${res.id} (${res.hash.slice(0, 12)})`);
      }
      if (sub === 'ls') {
        const rows = (await client.call('agents.installed', {})) as Array<{ id: string; name: string; version: string | null; driver: string; hash: string; updatedAt: number }>;
        return print(io, a, rows, () => table(['ID', 'NAME', 'VERSION', 'DRIVER', 'HASH', 'UPDATED'], rows.map((r) => [r.id, r.name, r.version, r.driver, r.hash.slice(0, 12), when(r.updatedAt)])));
      }
      if (sub === 'rm' && arg) {
        const res = await client.call('agents.remove', { agent: arg });
        return print(io, a, res, () => `removed ${arg}`);
      }
      throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
    },
  },
  plugin: {
    usage: 'plugin add <path> [--name NAME] | plugin ls | plugin rm <name>',
    summary: 'register, list and remove plugins',
    flags: { name: { type: 'string' } },
    async run(client, a, io) {
      const [sub = '', arg] = a.positionals;
      if (sub === 'add' && arg) {
        const res = (await client.call('plugins.add', { path: path.resolve(arg), ...(typeof a.flags.name === 'string' ? { name: a.flags.name } : {}) })) as { name: string; hash: string };
        return print(io, a, res, () => `registered plugin ${res.name} (${res.hash.slice(0, 12)})`);
      }
      if (sub === 'ls') {
        const rows = (await client.call('plugins.list', {})) as Array<{ name: string; version: string | null; hash: string; installedAt: number }>;
        return print(io, a, rows, () => table(['NAME', 'VERSION', 'HASH', 'INSTALLED'], rows.map((r) => [r.name, r.version, r.hash.slice(0, 12), when(r.installedAt)])));
      }
      if (sub === 'rm' && arg) {
        const res = await client.call('plugins.remove', { name: arg });
        return print(io, a, res, () => `removed plugin ${arg}`);
      }
      throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
    },
  },
  secret: {
    usage: 'secret set NAME [--value V | < file] | secret ls | secret rm NAME',
    summary: 'manage agent secrets (values are read from stdin unless --value is given)',
    flags: { value: { type: 'string' } },
    async run(client, a, io) {
      const [sub = '', arg] = a.positionals;
      if (sub === 'set' && arg) {
        const value = typeof a.flags.value === 'string' ? a.flags.value : (await io.readStdin()).replace(/\r?\n$/, '');
        const res = await client.call('secrets.set', { name: arg, value });
        return print(io, a, res, () => `secret ${arg} set`);
      }
      if (sub === 'ls') {
        const rows = (await client.call('secrets.list', {})) as Array<{ name: string; updatedAt: number }>;
        return print(io, a, rows, () => table(['NAME', 'UPDATED'], rows.map((r) => [r.name, when(r.updatedAt)])));
      }
      if (sub === 'rm' && arg) {
        const res = await client.call('secrets.remove', { name: arg });
        return print(io, a, res, () => `secret ${arg} removed`);
      }
      throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
    },
  },
  status: {
    usage: 'status [--json]',
    summary: 'daemon version, uptime, paths and subsystem health',
    async run(client, a, io) {
      const s = (await client.call('daemon.status', {})) as {
        version: string;
        pid: number;
        uptimeMs: number;
        home: string;
        board: string;
        socket: string;
        http?: string;
        health: Array<{ name: string; state: string; detail?: string }>;
        agents: { installed: number; instances: number; byState: Record<string, number> };
        sandbox: { permissionFlag: string; separateUid: boolean };
        wasm?: { cells: number; guests: number; restarts: number; modules: number; trapHandler: boolean };
        host?: { cpuPercent: number | null; memory: { totalBytes: number; availableBytes: number } | null; disk: { freeBytes: number; totalBytes: number } | null; socTempC: number | null };
      };
      const gb = (b: number): string => (b / 1024 ** 3).toFixed(1);
      const h = s.host;
      const hostLine = h
        ? [
            h.cpuPercent === null ? null : `cpu ${h.cpuPercent}%`,
            h.memory ? `memory ${gb(h.memory.availableBytes)}/${gb(h.memory.totalBytes)} GB free` : null,
            h.disk ? `disk ${gb(h.disk.freeBytes)}/${gb(h.disk.totalBytes)} GB free` : null,
            h.socTempC === null ? null : `SoC ${h.socTempC} °C`,
          ].filter(Boolean).join(', ')
        : '';
      return print(io, a, s, () =>
        [
          `openstarryd ${s.version}  pid ${s.pid}  up ${duration(s.uptimeMs)}  board ${s.board}`,
          `home    ${s.home}`,
          `socket  ${s.socket}`,
          `http    ${s.http ?? 'off'}`,
          ...(hostLine ? [`host    ${hostLine}`] : []),
          `sandbox ${s.sandbox.permissionFlag}${s.sandbox.separateUid ? ', own uid per agent (setpriv)' : ''}`,
          ...(s.wasm ? [`wasm    ${s.wasm.guests} agent(s) in ${s.wasm.cells} cell(s), ${s.wasm.modules} module(s) compiled, ${s.wasm.restarts} watchdog restart(s), trap handler ${s.wasm.trapHandler ? 'on' : 'off'}`] : []),
          `agents  ${s.agents.installed} installed, ${s.agents.instances} instances (${Object.entries(s.agents.byState).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`,
          '',
          table(['SUBSYSTEM', 'STATE', 'DETAIL'], s.health.map((h) => [h.name, h.state, h.detail])),
        ].join('\n'),
      );
    },
  },
  hal: {
    usage: 'hal ls | hal read <type[@device]> | hal set <device> <command> | hal record <file> [--for SECONDS]',
    summary: "the board's devices; read a sensor; command an actuator as the operator; record a trace to replay on the sim board",
    flags: { for: { type: 'string' } },
    async run(client, a, io) {
      const [sub = '', x, y] = a.positionals;
      if (sub === 'record' && x) {
        const seconds = typeof a.flags.for === 'string' ? Number(a.flags.for) : undefined;
        if (seconds !== undefined && !(seconds > 0 && seconds <= 86_400)) throw new OszError('OSZ_E_INVALID_PARAMS', '--for takes 1 to 86400 seconds');
        const out = fs.openSync(x, 'w', 0o644);
        let n = 0;
        // events can arrive in the same read as the answer: hold them until the header is written
        let early: TraceEvent[] | undefined = [];
        const write = (e: TraceEvent): void => {
          fs.writeSync(out, `${traceLine(e)}\n`);
          n++;
        };
        const initial = (await client.stream('hal.record', {}, (e) => (early ? early.push(e as TraceEvent) : write(e as TraceEvent)))) as { board: string; started: number };
        fs.writeSync(out, `${traceHeader(initial.board, initial.started)}\n`);
        early.forEach(write);
        early = undefined;
        io.err(`recording ${x}${seconds ? ` for ${seconds} s` : ''} (Ctrl-C stops)`);
        await new Promise<void>((resolve) => {
          const done = (): void => resolve();
          process.once('SIGINT', done);
          if (seconds) setTimeout(done, seconds * 1000);
          void client.closed().then(done);
        });
        client.close();
        fs.closeSync(out);
        return print(io, a, { file: x, events: n }, () => `recorded ${n} events to ${x}`);
      }
      if (sub === 'ls') {
        const r = (await client.call('hal.list', {})) as { board: string; devices: HalDevice[] };
        return print(io, a, r, () =>
          table(
            ['DEVICE', 'KIND', 'DRIVER', 'STATUS', 'STATE / READINGS', 'OWNER'],
            r.devices.map((d) => [d.id, d.kind, d.driver, d.status, d.kind === 'actuator' ? `${d.state ?? '?'} (${(d.commands ?? []).join('|')})` : d.channels ? readings(d.channels) : (d.detail ?? null), d.owner ?? null]),
          ),
        );
      }
      if (sub === 'read' && x) {
        const r = (await client.call('hal.read', { sensor: x })) as { value: number; unit: string; deviceId: string; ts: number };
        return print(io, a, r, () => `${x} = ${r.value} ${r.unit} (${r.deviceId}, ${when(r.ts)})`);
      }
      if (sub === 'set' && x && y) {
        const r = (await client.call('hal.set', { device: x, command: y })) as HalDevice;
        return print(io, a, r, () => `${x} is ${r.state ?? '?'}`);
      }
      throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
    },
  },
  doctor: {
    usage: 'doctor [--json]',
    summary: 'check clock, disk, SD card, store, socket and sandbox; exit 1 on any failure',
    async run(client, a, io) {
      const checks = (await client.call('daemon.doctor', {})) as Array<{ name: string; status: string; detail: string; fix?: string }>;
      const mark: Record<string, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
      print(io, a, checks, () => checks.map((c) => `${mark[c.status] ?? c.status} ${c.name}: ${c.detail}${c.fix && c.status !== 'ok' ? `\n     fix: ${c.fix}` : ''}`).join('\n'));
      return checks.some((c) => c.status === 'fail') ? 1 : 0;
    },
  },
  'log-level': {
    usage: 'log-level <debug|info|warn|error> [instance | agent]',
    summary: "change the daemon's log level, or the level kept from an agent, at run time",
    async run(client, a, io) {
      const [level = '', target] = need(a, 1, this.usage);
      const res = (await client.call('logs.level', { level, ...(target ? { target } : {}) })) as { target: string; level: string };
      return print(io, a, res, () => `log level of ${res.target} is now ${res.level}`);
    },
  },
  ...RULE_VERBS,
  call: {
    usage: 'call <operation> [JSON params]',
    summary: 'call any operation of the control plane directly',
    async run(client, a, io) {
      const [op = '', json] = need(a, 1, this.usage);
      let params: unknown = {};
      try {
        params = json ? JSON.parse(json) : {};
      } catch {
        throw new OszError('OSZ_E_INVALID_PARAMS', 'params must be JSON');
      }
      io.out(JSON.stringify(await client.call(op, params), null, 2));
      return 0;
    },
  },
};
