/**
 * JSON and YAML parsing for untrusted input: size-capped, and refusing the keys that reach
 * Object.prototype when parsed objects are later spread or merged (`__proto__`, `constructor`,
 * `prototype`). Used by every parser that reads files or lines from outside the daemon.
 */
import { parseDocument } from 'yaml';

const POISON = new Set(['__proto__', 'constructor', 'prototype']);

export class ParseFailure extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export function parseJsonSafe(text: string, maxBytes: number): unknown {
  if (Buffer.byteLength(text) > maxBytes) throw new ParseFailure(`input is ${Buffer.byteLength(text)} bytes; the limit is ${maxBytes}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ParseFailure(`not valid JSON: ${(err as Error).message}`);
  }
  assertNoPoison(value, '');
  return value;
}

export function parseYamlSafe(text: string, maxBytes: number): unknown {
  if (Buffer.byteLength(text) > maxBytes) throw new ParseFailure(`input is ${Buffer.byteLength(text)} bytes; the limit is ${maxBytes}`);
  // maxAliasCount guards against "billion laughs" alias expansion; uniqueKeys rejects duplicates.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  const first = doc.errors[0];
  if (first) throw new ParseFailure(`not valid YAML: ${first.message.split('\n')[0] ?? ''}`, first.linePos?.[0]?.line);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  assertNoPoison(value, '');
  return value ?? {};
}

function assertNoPoison(value: unknown, path: string, depth = 0): void {
  if (depth > 64) throw new ParseFailure(`nesting deeper than 64 levels at ${path || '(root)'}`);
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoPoison(v, `${path}[${i}]`, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (POISON.has(key)) throw new ParseFailure(`refused key "${key}" at ${path || '(root)'}`);
      assertNoPoison((value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, depth + 1);
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
