/**
 * Reference docs generated from the code's own tables, so they cannot drift: the error codes,
 * the operation table, and the manifest's JSON Schema for editors. `npm run docs` writes them;
 * test/unit/runtime/docs/generate.test.ts fails when the committed files are stale.
 */
import * as z from 'zod';
import { profileSchema } from '../../hal/profile/schema';
import { manifestSchema } from '../agents/manifest';
import { configSchema } from '../config/schema';
import { OPERATIONS } from '../control/ops/index';
import { ERROR_CODES } from '../errors';
import { bodySchema, replySchema, requestSchema } from '../fleet/command';
import { auditEventSchema, rulePublishSchema, eventSchema, stateSchema, stateViews, statusSchema, teleSchema } from '../fleet/payloads';

export function errorsMarkdown(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, hint]) => `| \`${code}\` | ${hint.replace(/\|/g, '\\|')} |`);
  return ['# Error codes', '', 'Generated from `runtime/errors.ts` by `npm run docs`. Every error the daemon reports carries one of these codes.', '', '| code | what to do |', '| --- | --- |', ...rows, ''].join('\n');
}

export function operationsMarkdown(): string {
  const rows = OPERATIONS.map((op) => {
    const params = Object.keys((op.params as unknown as { shape?: Record<string, unknown> }).shape ?? {}).join(', ') || '—';
    return `| \`${op.name}\` | ${op.role} | ${op.mutating ? 'yes' : 'no'} | ${op.remote ? 'yes' : 'no'} | ${params} | ${op.summary}${op.aliases?.length ? ` (alias: ${op.aliases.map((a) => `\`${a}\``).join(', ')})` : ''} |`;
  });
  return [
    '# Control-plane operations',
    '',
    'Generated from `runtime/control/ops/` by `npm run docs`. The control socket (JSON-RPC 2.0), and later REST, MQTT and rules, call these and nothing else.',
    '',
    '| operation | role | mutating (audited) | remote (MQTT) | params | what it does |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export function manifestJsonSchema(): string {
  const schema = z.toJSONSchema(manifestSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return JSON.stringify({ $id: 'https://openstarry.dev/schema/agent.schema.json', title: 'OpenStarry agent manifest (agent.json)', ...schema }, null, 2) + '\n';
}

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return JSON.stringify({ $id: 'https://openstarry.dev/schema/openstarryd.schema.json', title: 'openstarryd config (openstarryd.yaml)', ...schema }, null, 2) + '\n';
}

export function boardJsonSchema(): string {
  const schema = z.toJSONSchema(profileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return JSON.stringify({ $id: 'https://openstarry.dev/schema/board.schema.json', title: 'OpenStarry board profile (openstarry.board/v1)', ...schema }, null, 2) + '\n';
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'output'): string => '```json\n' + JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }), null, 2) + '\n```';

/** every payload of the fleet protocol (docs/fleet-protocol.md tells the story; this is the reference) */
export function fleetPayloadsMarkdown(): string {
  const out = [
    '# Fleet protocol payloads',
    '',
    'Generated from `runtime/fleet/payloads.ts`, `runtime/fleet/command.ts` and the operation table by `npm run docs`, as JSON Schema (draft 2020-12). Topics are under `openstarry/v1/<deviceId>/`; docs/fleet-protocol.md explains them.',
    '',
    '## `status` (retained): birth, will, clean stop',
    '',
    jsonSchema(statusSchema),
    '',
  ];
  for (const [name, view] of Object.entries(stateViews)) out.push(`## \`state/${name}\` (retained)`, '', jsonSchema(stateSchema(view)), '');
  out.push('## `tele/<sensor type>`', '', jsonSchema(teleSchema), '', '## `evt/<area>`: an exported event', '', jsonSchema(eventSchema), '', '## `evt/audit`', '', jsonSchema(auditEventSchema), '');
  out.push('## `pub/<topic>`: a rule\'s publish action', '', 'QoS 1, not retained, through the outbox after the event that fired the rule. `<topic>` is the action\'s own (docs/rules.md): lower-case words, at most 8 levels and 128 characters.', '', jsonSchema(rulePublishSchema), '');
  out.push('## `cmd/req/<area.verb>`: a command', '', jsonSchema(requestSchema, 'input'), '', '`body` is a JSON string; its bytes are what `sig` signs:', '', jsonSchema(bodySchema, 'input'), '');
  out.push('## `cmd/res/<id>`: the reply', '', jsonSchema(replySchema), '');
  out.push('## `params` of each remote operation', '');
  for (const op of OPERATIONS.filter((o) => o.remote)) out.push(`### \`${op.name}\` (${op.role})`, '', op.summary, '', jsonSchema(op.params, 'input'), '');
  return out.join('\n');
}

export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/fleet-payloads.md': fleetPayloadsMarkdown,
  'docs/errors.md': errorsMarkdown,
  'docs/operations.md': operationsMarkdown,
  'docs/agent.schema.json': manifestJsonSchema,
  'docs/openstarryd.schema.json': configJsonSchema,
  'docs/board.schema.json': boardJsonSchema,
};
