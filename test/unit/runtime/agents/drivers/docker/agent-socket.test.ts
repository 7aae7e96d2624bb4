import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAgentSocket } from '../../../../../../runtime/agents/drivers/docker/agent-socket';
import { waitFor } from '../../../../../helpers/tmp';

const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);

describe('agent socket nesting depth', () => {
  it('refuses a too-deep first line, and after hello reports a too-deep line as invalid and keeps the agent', async () => {
    const dir = path.join(fs.mkdtempSync('/tmp/osds-'), crypto.randomBytes(4).toString('hex'));
    const refused: string[] = [];
    const sock = await openAgentSocket(dir, 'tok', { onRefused: (why) => refused.push(why) });
    const got: unknown[] = [];
    const invalid: string[] = [];
    sock.channel.onMessage((m) => got.push(m));
    sock.channel.onInvalid((why) => invalid.push(why));
    const file = path.join(dir, 'agent.sock');
    const connect = (): net.Socket => net.connect(file).on('error', () => undefined);
    try {
      const early = connect();
      early.write(`{"jsonrpc":"2.0","id":1,"method":"hello","params":${deep(5000)}}\n`);
      await new Promise((r) => early.on('close', r));
      expect(refused).toEqual(['a first line that is nested deeper than 64 levels']);
      const agent = connect();
      agent.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { token: 'tok' } })}\n`);
      agent.write(`{"jsonrpc":"2.0","method":"emit","params":{"data":${deep(5000)}}}\n{"jsonrpc":"2.0","method":"heartbeat"}\n`);
      await waitFor('heartbeat', () => got.length === 2);
      expect(invalid).toEqual(['a line that is nested deeper than 64 levels']);
      expect(got[1]).toEqual({ jsonrpc: '2.0', method: 'heartbeat' });
      agent.destroy();
    } finally {
      sock.close();
    }
  });
});
