// A small JSON reader and writer for agents: events arrive as JSON text (the envelope of
// DESIGN §12.4), and emitted data and snapshots leave as JSON text. The reader finds a value by a
// dotted path ("data.value") without building a tree; the writer builds one object.

function isWs(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipWs(s: string, i: i32): i32 {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

function skipString(s: string, i: i32): i32 {
  // s[i] is the opening quote
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return -1;
}

/** The index just after the value starting at i, or -1 when the text is not valid there. */
function skipValue(s: string, i: i32): i32 {
  i = skipWs(s, i);
  if (i >= s.length) return -1;
  const c = s.charCodeAt(i);
  if (c == 0x22) return skipString(s, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < s.length) {
      const d = s.charCodeAt(i);
      if (d == 0x22) {
        i = skipString(s, i);
        if (i < 0) return -1;
        continue;
      }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || isWs(d)) break;
    i++;
  }
  return i;
}

/** The raw text of member `key` of the object starting at i, or null. */
function member(s: string, i: i32, key: string): string | null {
  i = skipWs(s, i);
  if (i >= s.length || s.charCodeAt(i) != 0x7b) return null;
  i++;
  while (true) {
    i = skipWs(s, i);
    if (i >= s.length || s.charCodeAt(i) != 0x22) return null;
    const end = skipString(s, i);
    if (end < 0) return null;
    const name = unquote(s.substring(i, end));
    i = skipWs(s, end);
    if (i >= s.length || s.charCodeAt(i) != 0x3a) return null;
    const start = skipWs(s, i + 1);
    const after = skipValue(s, start);
    if (after < 0) return null;
    if (name == key) return s.substring(start, after);
    i = skipWs(s, after);
    if (i < s.length && s.charCodeAt(i) == 0x2c) {
      i++;
      continue;
    }
    return null;
  }
}

/** The raw JSON text at a dotted path ("data.value"), or null when it is not there. */
export function get(json: string, path: string): string | null {
  let cur: string | null = json;
  const parts = path.split(".");
  for (let k = 0; k < parts.length; k++) {
    if (cur == null) return null;
    cur = member(cur, 0, parts[k]);
  }
  return cur;
}

/** A JSON string literal's text (escapes decoded); other values as they are. */
export function unquote(raw: string): string {
  if (raw.length < 2 || raw.charCodeAt(0) != 0x22) return raw;
  let out = "";
  let i = 1;
  const end = raw.length - 1;
  while (i < end) {
    const c = raw.charCodeAt(i);
    if (c != 0x5c) {
      let j = i;
      while (j < end && raw.charCodeAt(j) != 0x5c) j++;
      out += raw.substring(i, j);
      i = j;
      continue;
    }
    const e = raw.charCodeAt(i + 1);
    if (e == 0x6e) out += "\n";
    else if (e == 0x74) out += "\t";
    else if (e == 0x72) out += "\r";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x75 && i + 5 < raw.length) {
      out += String.fromCharCode(<i32>parseInt(raw.substring(i + 2, i + 6), 16));
      i += 6;
      continue;
    } else out += String.fromCharCode(e);
    i += 2;
  }
  return out;
}

/** A string as a JSON string literal. */
export function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** Builds one JSON object: `new JsonObject().num("t", 21.5).str("state", "on").toString()`. */
export class JsonObject {
  private parts: string[] = [];

  num(key: string, v: f64): JsonObject {
    this.parts.push(quote(key) + ":" + (isFinite(v) ? (v == Math.floor(v) && Math.abs(v) < 1e15 ? (<i64>v).toString() : v.toString()) : "null"));
    return this;
  }

  int(key: string, v: i64): JsonObject {
    this.parts.push(quote(key) + ":" + v.toString());
    return this;
  }

  str(key: string, v: string): JsonObject {
    this.parts.push(quote(key) + ":" + quote(v));
    return this;
  }

  bool(key: string, v: bool): JsonObject {
    this.parts.push(quote(key) + ":" + (v ? "true" : "false"));
    return this;
  }

  /** a value that is already JSON text */
  raw(key: string, json: string): JsonObject {
    this.parts.push(quote(key) + ":" + json);
    return this;
  }

  toString(): string {
    return "{" + this.parts.join(",") + "}";
  }
}
