/**
 * JSON messages over a byte stream: NDJSON lines with a hard cap (1 MiB for agents, DESIGN
 * §12.3). Used for agent channels (process fd 3, container sockets) and, through `ndjsonPeer`,
 * by the CLI's control client and the Node agent runner.
 */
import type { Duplex } from 'node:stream';
import { LineSplitter } from './ndjson';
import { MAX_MESSAGE_DEPTH, parseLine } from './parse-message';
import { type PeerHandlers, RpcPeer } from './peer';
import { ReadPause } from './read-pause';

export const MAX_AGENT_LINE_BYTES = 1024 * 1024;
/**
 * Readers of the daemon (the CLI, the SDK) take deeper values than the daemon takes from agents:
 * the daemon wraps agent data (a snapshot, an event) in a few levels of its own.
 */
export const MAX_DAEMON_MESSAGE_DEPTH = 4 * MAX_MESSAGE_DEPTH;

/** Whole JSON values in, whole JSON values out; oversized, unparsable or too deep lines are reported. */
export interface MessageChannel {
  send(msg: object): void;
  /** `bytes` is the message's size on the wire (0 where the transport moves objects, not bytes) */
  onMessage(fn: (value: unknown, bytes: number) => void): void;
  onInvalid(fn: (reason: string) => void): void;
  /**
   * Reads nothing for at least `ms`, from the next message on (a longer pause already running is
   * kept). What the peer writes meanwhile waits in the kernel's buffer and then blocks the peer in
   * write(2): backpressure, nothing is dropped (issue 16). A transport that cannot stop reading
   * says how its sender is bounded instead.
   */
  pause(ms: number): void;
  /**
   * Bytes written to the peer that it has not taken yet (what the daemon holds for it); 0 where
   * the transport bounds its backlog another way (a WASM cell's event backlog).
   */
  unread(): number;
}

export function streamChannel(stream: Duplex, maxBytes = MAX_AGENT_LINE_BYTES, maxDepth = MAX_MESSAGE_DEPTH): MessageChannel {
  const messageFns: Array<(v: unknown, bytes: number) => void> = [];
  const invalidFns: Array<(r: string) => void> = [];
  const invalid = (reason: string): void => invalidFns.forEach((f) => f(reason));
  const splitter = new LineSplitter(maxBytes, {
    line(text) {
      const parsed = parseLine(text, maxDepth);
      if (!parsed.ok) {
        invalid(parsed.reason);
        return;
      }
      const bytes = Buffer.byteLength(text) + 1;
      messageFns.forEach((f) => f(parsed.value, bytes));
    },
    oversize(bytes) {
      invalid(`line over ${maxBytes} bytes dropped (${bytes} bytes seen)`);
    },
  });
  // The splitter stops at the next line, even inside a chunk (one 64 KiB chunk of `{}` lines is
  // 21,845 messages); the stream stops reading, so the rest stays in the kernel's buffer.
  const hold = new ReadPause(
    () => {
      splitter.pause();
      stream.pause();
    },
    () => {
      splitter.resume();
      if (!hold.paused && !stream.destroyed) stream.resume();
    },
  );
  stream.on('data', (chunk: Buffer) => splitter.push(chunk));
  stream.on('error', () => {
    /* the owner's close/exit path reports why; a broken pipe here is expected when a peer dies */
  });
  stream.on('close', () => hold.cancel());
  return {
    send(msg) {
      if (stream.destroyed || !stream.writable) return;
      const line = JSON.stringify(msg);
      if (Buffer.byteLength(line) > maxBytes) throw new Error(`message over ${maxBytes} bytes`);
      stream.write(line + '\n');
    },
    onMessage: (fn) => void messageFns.push(fn),
    onInvalid: (fn) => void invalidFns.push(fn),
    pause: (ms) => hold.pause(ms),
    unread: () => stream.writableLength,
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
