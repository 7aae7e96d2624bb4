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

export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/errors.md': errorsMarkdown,
  'docs/operations.md': operationsMarkdown,
  'docs/agent.schema.json': manifestJsonSchema,
  'docs/openstarryd.schema.json': configJsonSchema,
  'docs/board.schema.json': boardJsonSchema,
};
