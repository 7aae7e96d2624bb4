/** The CLI's rules and events verbs: `rules apply|get|ls|test`, `events tail|emit`. */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import { MAX_RULES_BYTES } from '../rules/load';
import { table, when } from './format';
import { need, print, type Verb } from './verb';

interface RuleStats {
  id: string;
  on: string[];
  action: string;
  enabled: boolean;
  matched: number;
  fired: number;
  suppressed: Record<string, number>;
  evalErrors: number;
  lastEvalError?: string;
  lastError?: string;
  running: number;
  queued: number;
}

interface Envelope {
  id: string;
  type: string;
  source: string;
  time: string;
  data: Record<string, unknown>;
  depth: number;
}

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

const formatEvent = (e: Envelope): string => `${when(Date.parse(e.time))} ${e.type} ${e.source}${e.depth ? ` depth ${e.depth}` : ''} ${JSON.stringify(e.data)}`;

export const RULE_VERBS: Record<string, Verb> = {
  rules: {
    usage: 'rules apply <file> | rules get | rules ls | rules test <event.json>',
    summary: 'replace the rule set (errors, or the new etag); show it; its counters; a dry run for one event',
    async run(client, a, io) {
      const [sub = '', arg] = a.positionals;
      if (sub === 'apply' && arg) {
        const size = fs.statSync(arg).size;
        if (size > MAX_RULES_BYTES) throw new OszError('OSZ_E_RULES', `${arg} is ${size} bytes; rules files are at most ${MAX_RULES_BYTES} bytes`);
        const r = (await client.call('rules.apply', { source: fs.readFileSync(arg, 'utf8'), file: path.basename(arg) })) as { etag: string; rules: number; changed: boolean };
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
              [x.evalErrors ? `${x.evalErrors} eval: ${x.lastEvalError ?? ''}` : '', x.lastError ?? ''].filter(Boolean).join('; ') || null,
            ]),
          ),
        );
      }
      if (sub === 'test' && arg) {
        const r = (await client.call('rules.test', { event: readJsonFile(arg) })) as { event: Envelope; verdicts: Array<{ rule: string; matches: boolean; action?: string; reason: string }> };
        return print(io, a, r, () => [`event ${r.event.type} ${JSON.stringify(r.event.data)}`, ...r.verdicts.map((v) => (v.matches ? `  FIRES   ${v.rule}: ${v.action ?? ''}${v.reason === 'fires' ? '' : ` (${v.reason})`}` : `  no      ${v.rule}: ${v.reason}`))].join('\n'));
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
};
