/**
 * The agent channel's pause over a real Unix socket: the reader stops at the next message, even
 * inside a chunk; the writer's own buffer fills (backpressure reaches it, nothing is dropped);
 * then every message arrives, in order.
 */
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { streamChannel } from '../../../../runtime/rpc/stream-channel';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((f) => f()));

async function socketPair(): Promise<{ reader: net.Socket; writer: net.Socket }> {
  const file = path.join(tmpDir('osd-chan-'), 's');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(file, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const writer = net.connect(file);
  const reader = await accepted;
  closers.push(() => {
    writer.destroy();
    reader.destroy();
    server.close();
  });
  return { reader, writer };
}

describe('stream channel pause', () => {
  it('stops at the next message, lets backpressure reach the writer, then delivers everything in order', async () => {
    const { reader, writer } = await socketPair();
    const channel = streamChannel(reader);
    const got: number[] = [];
    const sizes = new Set<number>();
    let resumedAt = 0;
    channel.onMessage((v, bytes) => {
      const n = (v as { n: number }).n;
      got.push(n);
      sizes.add(bytes);
      if (n === 9) channel.pause(400);
      if (n === 10) resumedAt = got.length;
    });
    const line = (n: number): string => `${JSON.stringify({ jsonrpc: '2.0', method: 'heartbeat', n, pad: 'x'.repeat(50) })}\n`;
    // 2 MiB in one write: far more than the kernel buffers hold
    const total = 30_000;
    let text = '';
    for (let i = 0; i < total; i++) text += line(i);
    writer.write(text);
    await waitFor('the writer to hold what the reader does not take', () => writer.writableLength > 0 && got.length === 10, 5000);
    // the pause held mid-chunk: nothing past message 9, though its chunk held hundreds more
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await waitFor('every message', () => got.length === total, 20_000);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(resumedAt).toBe(11);
    expect([...sizes].every((b) => b >= line(0).length && b <= line(total).length)).toBe(true);
  });
});
