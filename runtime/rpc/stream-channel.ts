/**
 * JSON messages over a byte stream: NDJSON lines with a hard cap (1 MiB for agents, DESIGN
 * §12.3). Used for agent channels (process fd 3, container sockets) and, through `ndjsonPeer`,
 * by the CLI's control client and the Node agent runner.
 */
import type { Duplex } from 'node:stream';
import { LineSplitter } from './ndjson';
import { MAX_MESSAGE_DEPTH, parseLine } from './parse-message';
import { type PeerHandlers, RpcPeer } from './peer';

export const MAX_AGENT_LINE_BYTES = 1024 * 1024;
/**
 * Readers of the daemon (the CLI, the SDK) take deeper values than the daemon takes from agents:
 * the daemon wraps agent data (a snapshot, an event) in a few levels of its own.
 */
export const MAX_DAEMON_MESSAGE_DEPTH = 4 * MAX_MESSAGE_DEPTH;

/** Whole JSON values in, whole JSON values out; oversized, unparsable or too deep lines are reported. */
export interface MessageChannel {
  send(msg: object): void;
  onMessage(fn: (value: unknown) => void): void;
  onInvalid(fn: (reason: string) => void): void;
}

export function streamChannel(stream: Duplex, maxBytes = MAX_AGENT_LINE_BYTES, maxDepth = MAX_MESSAGE_DEPTH): MessageChannel {
  const messageFns: Array<(v: unknown) => void> = [];
  const invalidFns: Array<(r: string) => void> = [];
  const invalid = (reason: string): void => invalidFns.forEach((f) => f(reason));
  const splitter = new LineSplitter(maxBytes, {
    line(text) {
      const parsed = parseLine(text, maxDepth);
      if (parsed.ok) messageFns.forEach((f) => f(parsed.value));
      else invalid(parsed.reason);
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

/** A JSON-RPC peer speaking NDJSON over `stream`; its users (the CLI, the SDK) read the daemon. */
export function ndjsonPeer(stream: Duplex, handlers: PeerHandlers, maxBytes = MAX_AGENT_LINE_BYTES, maxDepth = MAX_DAEMON_MESSAGE_DEPTH): RpcPeer {
  const channel = streamChannel(stream, maxBytes, maxDepth);
  const peer = new RpcPeer((msg) => channel.send(msg), handlers);
  channel.onMessage((v) => peer.receive(v));
  if (handlers.invalid) channel.onInvalid(handlers.invalid);
  return peer;
}
