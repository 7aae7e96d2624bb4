import { describe, expect, it } from 'vitest';
import { RpcPeer } from '../../../../runtime/rpc/peer';

describe('RpcPeer', () => {
  it('hands requests and notifications to their handlers in arrival order', async () => {
    const seen: string[] = [];
    const sent: unknown[] = [];
    let helloed = false;
    const peer = new RpcPeer((m) => void sent.push(m), {
      request: (method) => {
        seen.push(`request ${method}`);
        if (method === 'hello') helloed = true;
        return { ok: true };
      },
      notification: (method) => void seen.push(`notification ${method} helloed=${helloed}`),
    });
    // one chunk from an agent: hello, then a log line, then a request and another notification
    peer.receive({ jsonrpc: '2.0', id: 1, method: 'hello' });
    peer.receive({ jsonrpc: '2.0', method: 'log' });
    peer.receive({ jsonrpc: '2.0', id: 2, method: 'bus.emit' });
    peer.receive({ jsonrpc: '2.0', method: 'heartbeat' });
    await new Promise<void>((r) => setImmediate(r));
    expect(seen).toEqual(['request hello', 'notification log helloed=true', 'request bus.emit', 'notification heartbeat helloed=true']);
    expect(sent).toEqual([
      { jsonrpc: '2.0', id: 1, result: { ok: true } },
      { jsonrpc: '2.0', id: 2, result: { ok: true } },
    ]);
  });

  it('answers a request whose handler throws at once with an error, and goes on', async () => {
    const sent: Array<{ id?: number; error?: { message: string }; result?: unknown }> = [];
    const peer = new RpcPeer((m) => void sent.push(m as never), {
      request: (method) => {
        if (method === 'bad') throw new Error('boom');
        return 'fine';
      },
    });
    peer.receive({ jsonrpc: '2.0', id: 1, method: 'bad' });
    peer.receive({ jsonrpc: '2.0', id: 2, method: 'good' });
    await new Promise<void>((r) => setImmediate(r));
    expect(sent.map((m) => [m.id, m.error?.message ?? m.result])).toEqual([
      [1, 'boom'],
      [2, 'fine'],
    ]);
  });
});
