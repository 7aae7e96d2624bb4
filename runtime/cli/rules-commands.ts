/** The CLI's rules, events and dashboard verbs: `rules apply|get|ls|test`, `events tail|emit`, `dashboard`. */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import type { EventEnvelope as Envelope } from '../bus/envelope';
import type { RuleStats, Verdict } from '../rules/engine';
import { MAX_RULES_BYTES } from '../rules/limits';
import type { RuleProblem } from '../rules/load';
import { formatWarning } from '../rules/warning';
import { table, when } from './format';
import { need, print, type Verb } from './verb';

function readJsonFile(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OszError('OSZ_E_INVALID_PARAMS', `${file}: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OszError('OSZ_E_INVALID_PARAMS', `${file} must hold one JSON object: an event envelope or {"type": ..., ...data}`);
  return v as Record<string, unknown>;
}

/** A spawn of an agent that is not installed fires, and fails: the line says both (issue 17). */
const verdictLine = (v: Verdict): string => {
  if (!v.matches) return `  no      ${v.rule}: ${v.reason}`;
  const why = v.reason === 'fires' ? '' : ` (${v.reason})`;
  const waiting = v.waitingFor?.length ? ` (waiting for agent ${v.waitingFor.join(', ')}: not installed, so the spawn would fail)` : '';
  return `  FIRES   ${v.rule}: ${v.action ?? ''}${why}${waiting}`;
};

const formatEvent = (e: Envelope): string => `${when(Date.parse(e.time))} ${e.type} ${e.source}${e.depth ? ` depth ${e.depth}` : ''} ${JSON.stringify(e.data)}`;

export const RULE_VERBS: Record<string, Verb> = {
  rules: {
    usage: 'rules apply <file> [--if-match ETAG] | rules get | rules ls | rules test <event.json>',
    summary: 'replace the rule set (errors, or the new etag; --if-match: only over that etag); show it; its counters; a dry run for one event',
    flags: { 'if-match': { type: 'string' } },
    async run(client, a, io) {
      const [sub = '', arg] = a.positionals;
      if (sub === 'apply' && arg) {
        const size = fs.statSync(arg).size;
        if (size > MAX_RULES_BYTES) throw new OszError('OSZ_E_RULES', `${arg} is ${size} bytes; rules files are at most ${MAX_RULES_BYTES} bytes`);
        const ifMatch = a.flags['if-match'];
        const r = (await client.call('rules.apply', { source: fs.readFileSync(arg, 'utf8'), file: path.basename(arg), ...(typeof ifMatch === 'string' ? { ifMatch } : {}) })) as { etag: string; rules: number; changed: boolean; warnings?: RuleProblem[] };
        if (!a.json) for (const w of r.warnings ?? []) io.err(`warning: ${formatWarning(w)}`);
        return print(io, a, r, () => (r.changed ? `applied ${r.rules} rules, etag ${r.etag}` : `unchanged, etag ${r.etag}`));
      }
      if (sub === 'get') {
        const r = (await client.call('rules.get', {})) as { etag: string; source: string; actor: string; appliedAt: number } | null;
        return print(io, a, r, () => (r ? `# etag ${r.etag}, applied by ${r.actor} ${when(r.appliedAt)}\n${r.source}` : 'no rule set applied'));
      }
      if (sub === 'ls') {
        const r = (await client.call('rules.list', {})) as { etag?: string; rules: RuleStats[] };
        return print(io, a, r, () =>
          table(
            ['RULE', 'ON', 'ACTION', 'MATCHED', 'FIRED', 'RUNNING', 'NOT FIRED (WHY)', 'ERRORS'],
            r.rules.map((x) => [
              `${x.id}${x.enabled ? '' : ' (off)'}`,
              x.on.join(','),
              x.action,
              x.matched,
              x.fired,
              x.running + (x.queued ? ` +${x.queued} queued` : ''),
              Object.entries(x.suppressed).map(([k, v]) => `${k} ${v}`).join(', ') || null,
              [x.waitingFor?.length ? `waiting for agent ${x.waitingFor.join(', ')}` : '', x.lastEvalError ? `${x.evalErrors} eval: ${x.lastEvalError}` : '', x.lastError ?? ''].filter(Boolean).join('; ') || null,
            ]),
          ),
        );
      }
      if (sub === 'test' && arg) {
        const r = (await client.call('rules.test', { event: readJsonFile(arg) })) as { event: Envelope; verdicts: Verdict[]; warnings?: RuleProblem[] };
        if (!a.json) for (const w of r.warnings ?? []) io.err(`warning: ${formatWarning(w)}`);
        return print(io, a, r, () => [`event ${r.event.type} ${JSON.stringify(r.event.data)}`, ...r.verdicts.map(verdictLine)].join('\n'));
      }
      throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
    },
  },
  events: {
    usage: 'events tail [-f] [-n LINES] [--type PATTERN] | events emit <type> [JSON data]',
    summary: 'show (and with -f follow) the event log; raise an event as the operator',
    flags: { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' }, type: { type: 'string' } },
    async run(client, a, io) {
      const [sub = '', type, json] = need(a, 1, this.usage);
      if (sub === 'emit' && type) {
        let data: unknown = {};
        try {
          data = json ? JSON.parse(json) : {};
        } catch {
          throw new OszError('OSZ_E_INVALID_PARAMS', 'event data must be a JSON object');
        }
        const e = (await client.call('events.emit', { type, data })) as Envelope;
        return print(io, a, e, () => `emitted ${e.type} (${e.id})`);
      }
      if (sub !== 'tail') throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
      const params = { lines: typeof a.flags.lines === 'string' ? Number(a.flags.lines) : 50, ...(typeof a.flags.type === 'string' ? { type: a.flags.type } : {}) };
      const show = (e: Envelope): void => io.out(a.json ? JSON.stringify(e) : formatEvent(e));
      if (a.flags.follow !== true) {
        const list = (await client.call('events.tail', params)) as Envelope[];
        if (a.json) io.out(JSON.stringify(list, null, 2));
        else list.forEach(show);
        return 0;
      }
      const initial = (await client.stream('events.tail', { ...params, follow: true }, (e) => show(e as Envelope))) as Envelope[];
      initial.forEach(show);
      await client.closed();
      return 0;
    },
  },
  dashboard: {
    usage: 'dashboard [--json] [--watch]',
    summary: 'the dashboard model: device, resources, agents with their snapshots, HAL, rules, fleet (--watch: each change)',
    flags: { watch: { type: 'boolean', short: 'w' } },
    async run(client, a, io) {
      const show = (d: Dashboard): void => io.out(a.json ? JSON.stringify(d, null, 2) : formatDashboard(d));
      if (a.flags.watch !== true) {
        show((await client.call('dashboard.get', { refresh: true })) as Dashboard);
        return 0;
      }
      const held: { model?: Dashboard } = {};
      // sections can arrive in the same read as the answer: hold them until the model is shown
      const early: Array<{ name: string }> = [];
      const apply = (section: { name: string }): void => {
        const model = held.model;
        if (!model) return void early.push(section);
        (model as Record<string, unknown>)[section.name] = section;
        if (a.json) io.out(JSON.stringify(section));
        else show(model);
      };
      held.model = (await client.stream('dashboard.watch', {}, (x) => apply(x as { name: string }))) as Dashboard;
      show(held.model);
      early.splice(0).forEach(apply);
      await client.closed();
      return 0;
    },
  },
};

interface Dashboard {
  device?: { value: { id: string; board: string; version: string; startedAt: number } };
  resources?: { value: { cpuPercent: number | null; memory: { totalBytes: number; availableBytes: number } | null; disk: { path: string; freeBytes: number; totalBytes: number } | null; socTempC: number | null; store: { state: string } } };
  agents?: { value: { instances: Array<{ instance: string; agent: string; state: string; cpuPercent: number | null; snapshot: unknown; snapshotAt: number | null; snapshotError?: string }> } };
  hal?: { value: { devices: Array<{ id: string; status: string }> } };
  rules?: { value: { etag: string | null; rules: Array<{ id: string; fired: number }> } };
  fleet?: { value: { state: string; outbox: number } };
}

const mb = (n: number): string => `${Math.round(n / 1048576)} MB`;

function formatDashboard(d: Dashboard): string {
  const dev = d.device?.value;
  const r = d.resources?.value;
  const lines = [
    dev ? `device ${dev.id} (board ${dev.board}, openstarryd ${dev.version}, up since ${when(dev.startedAt)})` : 'device: not yet projected',
    r ? `resources: cpu ${r.cpuPercent ?? '-'}%, memory ${r.memory ? `${mb(r.memory.availableBytes)} free of ${mb(r.memory.totalBytes)}` : '-'}, disk ${r.disk ? `${mb(r.disk.freeBytes)} free` : '-'}, SoC ${r.socTempC ?? '-'} °C, store ${r.store.state}` : '',
    `hal: ${(d.hal?.value.devices ?? []).length} devices, ${(d.hal?.value.devices ?? []).filter((x) => x.status !== 'ok').length} not ok`,
    `rules: ${(d.rules?.value.rules ?? []).length} (etag ${d.rules?.value.etag ?? 'none'}), fleet ${d.fleet?.value.state ?? '-'}`,
    '',
    table(
      ['INSTANCE', 'AGENT', 'STATE', 'CPU%', 'SNAPSHOT'],
      (d.agents?.value.instances ?? []).map((x) => [x.instance, x.agent, x.state, x.cpuPercent, x.snapshotError ? `(${x.snapshotError})` : x.snapshot === null ? null : JSON.stringify(x.snapshot).slice(0, 60)]),
    ),
  ];
  return lines.filter((l, i) => l !== '' || i === 4).join('\n');
}
