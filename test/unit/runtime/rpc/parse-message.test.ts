import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { nestedDeeperThan, parseLine } from '../../../../runtime/rpc/parse-message';
import { streamChannel } from '../../../../runtime/rpc/stream-channel';

const arrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const objects = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

describe('parseLine', () => {
  it('takes 64 levels and refuses 65, for arrays and objects, keeping the request id', () => {
    expect(parseLine(arrays(64)).ok).toBe(true);
    expect(parseLine(objects(64)).ok).toBe(true);
    expect(parseLine(arrays(65))).toMatchObject({ ok: false, problem: 'too-deep', id: null });
    expect(parseLine(`{"jsonrpc":"2.0","id":"r1","method":"m","params":${objects(70)}}`)).toMatchObject({ ok: false, problem: 'too-deep', id: 'r1' });
    expect(parseLine('{"a": nope}')).toMatchObject({ ok: false, problem: 'unparsable' });
  });

  it('refuses a 500,000-deep line (1 MiB) from its text, which stringify could not handle', () => {
    const text = arrays(500_000);
    expect(() => JSON.stringify(JSON.parse(text))).toThrow(/call stack/);
    expect(parseLine(text)).toMatchObject({ ok: false, problem: 'too-deep' });
    expect(parseLine(`"${'[{'.repeat(500_000)}"`)).toMatchObject({ ok: true });
  });

  it('counts depth along each branch, not across siblings, and not inside strings', () => {
    expect(nestedDeeperThan(`[${Array.from({ length: 1000 }, () => arrays(63)).join(',')}]`, 64)).toBe(false);
    expect(nestedDeeperThan('{"a":[1,{"b":[[]]}],"c":"x"}', 5)).toBe(false);
    expect(nestedDeeperThan('{"a":[1,{"b":[[]]}],"c":"x"}', 4)).toBe(true);
    expect(nestedDeeperThan(JSON.stringify({ s: '['.repeat(200), t: '\\"[[[[[[[[[[' }), 2)).toBe(false);
    expect(parseLine(JSON.stringify({ s: '['.repeat(200) })).ok).toBe(true);
  });

  it('finds the id of a too-deep request when it comes before the deep part', () => {
    expect(parseLine(`{"jsonrpc":"2.0","method":"x","id":42,"params":${arrays(100)}}`)).toMatchObject({ id: 42 });
    expect(parseLine(`{"method":"a \\"id\\": 9","id":"q\\"1","params":${arrays(100)}}`)).toMatchObject({ id: 'q"1' });
    expect(parseLine(`{"jsonrpc":"2.0","params":${arrays(100)},"id":42}`)).toMatchObject({ problem: 'too-deep', id: null });
  });
});

describe('agent channel depth', () => {
  it('reports a too-deep agent line as invalid and delivers the next one', async () => {
    const stream = new PassThrough();
    const channel = streamChannel(stream);
    const got: unknown[] = [];
    const invalid: string[] = [];
    channel.onMessage((v) => got.push(v));
    channel.onInvalid((r) => invalid.push(r));
    stream.write(`{"jsonrpc":"2.0","method":"emit","params":{"data":${arrays(5000)}}}\n{"jsonrpc":"2.0","method":"heartbeat"}\n`);
    await new Promise((r) => setImmediate(r));
    expect(invalid).toEqual(['JSON nested deeper than 64 levels']);
    expect(got).toEqual([{ jsonrpc: '2.0', method: 'heartbeat' }]);
  });
});
