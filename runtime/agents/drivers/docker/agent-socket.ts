/**
 * The agent protocol's container transport (DESIGN §3, §12.3): a Unix socket per instance, in a
 * directory of its own that is bind-mounted into the container (a bind-mounted socket *file*
 * goes stale when the daemon recreates it). NDJSON lines of at most 1 MiB.
 *
 * One connection at a time, and only one that proves itself: a connection's first line must be
 * `hello` with the instance's token; anything else closes that connection and the socket keeps
 * waiting for the real agent. So another process that reaches the socket cannot speak as the
 * agent, nor take its place once it is connected.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HeldMessages } from '../../../rpc/held-messages';
import { LineSplitter } from '../../../rpc/ndjson';
import { MAX_MESSAGE_DEPTH, parseLine } from '../../../rpc/parse-message';
import { ReadPause } from '../../../rpc/read-pause';
import type { AgentChannel } from '../driver';

export const MAX_LINE = 1024 * 1024;
export const SOCKET_NAME = 'agent.sock';

export interface AgentSocket {
  readonly dir: string;
  readonly channel: AgentChannel;
  /** connections refused (wrong or missing hello, or while the agent is connected) */
  readonly refused: number;
  /** the agent connected and said a valid hello */
  readonly connected: Promise<void>;
  close(): void;
}

export async function openAgentSocket(dir: string, token: string, opts: { uid?: number; onRefused?(why: string): void } = {}): Promise<AgentSocket> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (opts.uid !== undefined) fs.chownSync(dir, opts.uid, opts.uid);
  const file = path.join(dir, SOCKET_NAME);
  // The container can connect and say hello before launch() has returned and the session has
  // attached: what arrives is held until the first listener (a lost hello fails the start).
  const messages = new HeldMessages();
  const invalidFns: Array<(why: string) => void> = [];
  let bound: net.Socket | undefined;
  /** stops reading the bound connection (the channel's pause, issue 16) */
  let hold: ReadPause | undefined;
  let refused = 0;
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => (resolveConnected = r));
  const expected = Buffer.from(token);

  const refuse = (sock: net.Socket, why: string): void => {
    refused++;
    opts.onRefused?.(why);
    sock.destroy();
  };

  const server = net.createServer((sock) => {
    if (bound) {
      refuse(sock, 'a connection while the agent is connected');
      return;
    }
    let first = true;
    const onLine = (line: string): void => {
      // nesting is capped like every agent channel's (rpc/parse-message.ts): deeper overflows the stack later
      const parsed = parseLine(line);
      if (!parsed.ok) {
        const what = parsed.problem === 'too-deep' ? `nested deeper than ${MAX_MESSAGE_DEPTH} levels` : 'not JSON';
        if (first) refuse(sock, `a first line that is ${what}`);
        else invalidFns.forEach((f) => f(`a line that is ${what}`));
        return;
      }
      const msg = parsed.value;
      if (first) {
        first = false;
        const p = (msg as { method?: unknown; params?: { token?: unknown } } | null)?.params;
        const given = Buffer.from(typeof p?.token === 'string' ? p.token : '');
        if ((msg as { method?: unknown }).method !== 'hello' || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
          refuse(sock, 'a first message that is not hello with the instance token');
          return;
        }
        if (bound) {
          refuse(sock, 'a second agent connection');
          return;
        }
        bound = sock;
        hold = new ReadPause(
          () => {
            splitter.pause();
            sock.pause();
          },
          () => {
            splitter.resume();
            if (!hold?.paused && !sock.destroyed) sock.resume();
          },
        );
        resolveConnected();
      }
      messages.emit(msg, Buffer.byteLength(line) + 1);
    };
    const splitter = new LineSplitter(MAX_LINE, {
      line: onLine,
      oversize: (bytes) => {
        const why = `a line of ${bytes} bytes, over ${MAX_LINE}`;
        if (first) refuse(sock, why);
        else invalidFns.forEach((f) => f(why));
      },
    });
    sock.on('data', (c: Buffer) => splitter.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (bound !== sock) return;
      bound = undefined;
      hold?.cancel();
      hold = undefined;
    });
    // A connection that says nothing is dropped; the agent says hello at once.
    sock.setTimeout(10_000, () => {
      if (first) refuse(sock, 'no hello within 10 s');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  fs.chmodSync(file, 0o600);
  if (opts.uid !== undefined) fs.chownSync(file, opts.uid, opts.uid);
  return {
    dir,
    get refused() {
      return refused;
    },
    connected,
    channel: {
      send: (msg) => {
        if (bound && !bound.destroyed) bound.write(`${JSON.stringify(msg)}\n`);
      },
      onMessage: (fn) => messages.on(fn),
      onInvalid: (fn) => void invalidFns.push(fn),
      pause: (ms) => hold?.pause(ms),
      unread: () => bound?.writableLength ?? 0,
    },
    close: () => {
      bound?.destroy();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
