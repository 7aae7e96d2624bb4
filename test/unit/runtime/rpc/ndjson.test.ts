import { describe, expect, it } from 'vitest';
import { classify } from '../../../../runtime/rpc/jsonrpc';
import { LineSplitter } from '../../../../runtime/rpc/ndjson';

function collect(max: number): { s: LineSplitter; lines: string[]; over: number[] } {
  const lines: string[] = [];
  const over: number[] = [];
  return { s: new LineSplitter(max, { line: (l) => lines.push(l), oversize: (n) => over.push(n) }), lines, over };
}

describe('NDJSON line splitter', () => {
  it('splits across chunks, handles CRLF and multi-byte characters split between chunks', () => {
    const c = collect(100);
    const text = Buffer.from('{"a":1}\r\n{"b":"ü€"}\n\n{"c"');
    c.s.push(text.subarray(0, 13));
    c.s.push(text.subarray(13));
    c.s.push(':3}\n');
    expect(c.lines).toEqual(['{"a":1}', '{"b":"ü€"}', '{"c":3}']);
  });

  it('drops an oversized line while it streams, keeping memory at the cap, then recovers', () => {
    const c = collect(1024);
    for (let i = 0; i < 1000; i++) {
      c.s.push('x'.repeat(64 * 1024));
      expect(c.s.pending).toBeLessThanOrEqual(1024);
    }
    expect(c.over).toHaveLength(1);
    c.s.push('tail of the long line\n{"ok":true}\n');
    expect(c.lines).toEqual(['{"ok":true}']);
  });
});

describe('NDJSON line splitter, paused', () => {
  it('stops in the middle of a chunk when a line handler pauses, and goes on from there on resume', () => {
    const lines: string[] = [];
    const s = new LineSplitter(100, {
      line: (l) => {
        lines.push(l);
        if (lines.length % 2 === 0) s.pause();
      },
      oversize: () => undefined,
    });
    s.push('a\nb\nc\nd\ne');
    expect(lines).toEqual(['a', 'b']);
    s.push('\nf\n');
    expect(lines).toEqual(['a', 'b']);
    s.resume();
    expect(lines).toEqual(['a', 'b', 'c', 'd']);
    s.resume();
    expect(lines).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});

describe('JSON-RPC classification', () => {
  it('sorts requests, notifications and responses and explains invalid ones', () => {
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'a' }).kind).toBe('request');
    expect(classify({ jsonrpc: '2.0', method: 'a' }).kind).toBe('notification');
    expect(classify({ jsonrpc: '2.0', id: 1, result: null }).kind).toBe('response');
    expect(classify([]).kind).toBe('invalid');
    expect(classify({ jsonrpc: '1.0', id: 1, method: 'a' }).kind).toBe('invalid');
    expect(classify({ jsonrpc: '2.0', id: { x: 1 }, method: 'a' }).kind).toBe('invalid');
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'x'.repeat(500) }).kind).toBe('invalid');
  });
});
