/** An agent channel over a byte stream: NDJSON lines of at most 1 MiB (DESIGN §12.3). */
import type { Duplex } from 'node:stream';
import { LineSplitter } from '../rpc/ndjson';
import type { AgentChannel } from './drivers/driver';

export const MAX_AGENT_LINE_BYTES = 1024 * 1024;

export function streamChannel(stream: Duplex, maxBytes = MAX_AGENT_LINE_BYTES): AgentChannel {
  const messageFns: Array<(v: unknown) => void> = [];
  const invalidFns: Array<(r: string) => void> = [];
  const invalid = (reason: string): void => invalidFns.forEach((f) => f(reason));
  const splitter = new LineSplitter(maxBytes, {
    line(text) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        invalid(`unparsable line (${Buffer.byteLength(text)} bytes)`);
        return;
      }
      messageFns.forEach((f) => f(value));
    },
    oversize(bytes) {
      invalid(`line over ${maxBytes} bytes dropped (${bytes} bytes seen)`);
    },
  });
  stream.on('data', (chunk: Buffer) => splitter.push(chunk));
  stream.on('error', () => {
    /* the exit path reports why; a broken pipe here is expected when an agent dies */
  });
  return {
    send(msg) {
      if (stream.destroyed || !stream.writable) return;
      const line = JSON.stringify(msg);
      if (Buffer.byteLength(line) > maxBytes) throw new Error(`message over ${maxBytes} bytes`);
      stream.write(line + '\n');
    },
    onMessage: (fn) => void messageFns.push(fn),
    onInvalid: (fn) => void invalidFns.push(fn),
  };
}
