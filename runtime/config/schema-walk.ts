/** Reads the shape of the zod config schema: known keys at a path and the leaf type of a key. */
import type { z } from 'zod';

type AnyZod = z.core.$ZodType;

function unwrap(schema: AnyZod): AnyZod {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const def = s._zod.def as { type: string; innerType?: AnyZod; in?: AnyZod };
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable', 'catch', 'readonly'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}

export function schemaAt(root: AnyZod, path: readonly string[]): AnyZod | undefined {
  let s: AnyZod | undefined = unwrap(root);
  for (const part of path) {
    if (!s) return undefined;
    const def = s._zod.def as { type: string; shape?: Record<string, AnyZod>; catchall?: AnyZod };
    if (def.type !== 'object') return undefined;
    const next: AnyZod | undefined = def.shape?.[part] ?? def.catchall;
    s = next ? unwrap(next) : undefined;
  }
  return s;
}

export function leafKind(root: AnyZod, path: readonly string[]): string | undefined {
  const s = schemaAt(root, path);
  if (!s) return undefined;
  const def = s._zod.def as { type: string; options?: AnyZod[] };
  if (def.type === 'union' && def.options?.every((o) => (o._zod.def as { type: string }).type === 'literal')) return 'number';
  return def.type;
}

export function keysAt(root: AnyZod, path: readonly string[]): string[] {
  const s = schemaAt(root, path);
  const def = s?._zod.def as { type: string; shape?: Record<string, AnyZod> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
