/**
 * JSON messages over a byte stream: NDJSON lines with a hard cap (1 MiB for agents, DESIGN
 * §12.3). Used for agent channels (process fd 3, container sockets) and, through `ndjsonPeer`,
 * by the CLI's control client and the Node agent runner.
 */
import type { Duplex } from 'node:stream';
import { LineSplitter } from './ndjson';
import { type PeerHandlers, RpcPeer } from './peer';

export const MAX_AGENT_LINE_BYTES = 1024 * 1024;

/** Whole JSON values in, whole JSON values out; oversized or unparsable lines are reported. */
export interface MessageChannel {
  send(msg: object): void;
  onMessage(fn: (value: unknown) => void): void;
  onInvalid(fn: (reason: string) => void): void;
}

export function streamChannel(stream: Duplex, maxBytes = MAX_AGENT_LINE_BYTES): MessageChannel {
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
    /* the owner's close/exit path reports why; a broken pipe here is expected when a peer dies */
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

/** A JSON-RPC peer speaking NDJSON over `stream`. */
export function ndjsonPeer(stream: Duplex, handlers: PeerHandlers, maxBytes = MAX_AGENT_LINE_BYTES): RpcPeer {
  const channel = streamChannel(stream, maxBytes);
  const peer = new RpcPeer((msg) => channel.send(msg), handlers);
  channel.onMessage((v) => peer.receive(v));
  if (handlers.invalid) channel.onInvalid(handlers.invalid);
  return peer;
}
