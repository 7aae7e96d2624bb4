/**
 * Parses one NDJSON line from a peer that is not trusted (a control client, an agent) and refuses
 * values nested deeper than a fixed limit. JSON.parse itself copes with any depth, but what
 * handles the value next recurses: JSON.stringify overflows the stack near 4,000 levels on
 * Node 20 (less on a deeper stack), and a 5,000-deep control request answered `OSZ_E_INTERNAL:
 * Maximum call stack size exceeded`. The depth is counted on the text, before JSON.parse: parsing
 * a 1 MiB line of `[` takes V8 ~0.4 s, which a client could repeat to stall the daemon, while
 * the scan takes a millisecond and stops at the first bracket too many.
 */
import { type Id, isId } from './jsonrpc';

/** deepest nesting accepted from a control client or an agent (DESIGN §12.2, §12.3) */
export const MAX_MESSAGE_DEPTH = 64;

export type ParsedLine =
  | { ok: true; value: unknown }
  | { ok: false; problem: 'unparsable'; reason: string }
  /** `id` is the request's id when it comes before the deep part, so the refusal can answer it */
  | { ok: false; problem: 'too-deep'; reason: string; id: Id | null };

export function parseLine(text: string, maxDepth = MAX_MESSAGE_DEPTH): ParsedLine {
  if (nestedDeeperThan(text, maxDepth)) return { ok: false, problem: 'too-deep', reason: `JSON nested deeper than ${maxDepth} levels`, id: leadingId(text) };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, problem: 'unparsable', reason: `unparsable line (${Buffer.byteLength(text)} bytes)` };
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isOpener = (c: number): boolean => c === 0x5b || c === 0x7b; // [ {
const isCloser = (c: number): boolean => c === 0x5d || c === 0x7d; // ] }

/** true when the JSON text opens more than `max` arrays or objects inside each other */
export function nestedDeeperThan(text: string, max: number): boolean {
  if (text.length <= max) return false; // each level takes at least one character
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (isOpener(c)) {
      if (++depth > max) return true;
    } else if (isCloser(c)) depth--;
  }
  return false;
}

// a top-level "id" member before the first nested value: strings, numbers, literals in between
const LEADING_ID = /^\s*\{(?:[^{}[\]"]|"(?:[^"\\]|\\.)*")*?"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/;

function leadingId(text: string): Id | null {
  const m = LEADING_ID.exec(text.slice(0, 4096));
  if (!m?.[1]) return null;
  try {
    const id: unknown = JSON.parse(m[1]);
    return isId(id) ? id : null;
  } catch {
    return null;
  }
}
