/**
 * The agent host (dist/sdk/worker-host.mjs): one sandboxed Node process per grant set, running
 * worker agents as worker threads (DESIGN §3: never in the daemon's process, because the
 * permission model is process-wide). It multiplexes its workers over one NDJSON channel on fd 3:
 *
 *   daemon → host  {c:'start', instance, env, memoryMb}  {c:'signal', instance, signal}  {w, m}
 *   host → daemon  {c:'started', instance}  {c:'exit', instance, code, signal, reason?}
 *                  {c:'out', instance, stream, line}  {w, m}
 *
 * where {w, m} carries one JSON-RPC message `m` of instance `w`: everything a worker posts goes
 * out wrapped so, and only the host's own code writes `c` messages, so an agent cannot speak for
 * the host. The host reports no usage: a worker's own figures would leave out the threads and
 * native memory it does not own, so the daemon reads the whole host process's from /proc
 * (issue 16). The host exits when the daemon closes the channel, taking its workers with it.
 *
 * Backpressure (issue 16): the daemon stops reading this channel while an instance is over its
 * budget or output cap. The host then queues each worker's messages in order (host-outbox.ts),
 * its own messages ahead of them, and stops reading the workers' stdout and stderr until the
 * socket drains, so a worker's console writes wait (in its own heap, under its memory limit). A
 * worker's posted messages cannot be made to wait: one with more than MAX_UNSENT_BYTES queued is
 * ended, as a process agent writing past its heap cap ends, and its queue dropped, so its exit
 * reaches the daemon ahead of it. A worker the daemon kills has its queue dropped alike.
 */
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LineSplitter } from '../../rpc/ndjson';
import { streamChannel } from '../../rpc/stream-channel';
import { HostOutbox } from './host-outbox';

const MAX_LINE = 1024 * 1024 + 4096;
/** what one worker may have queued in the host, unread by the daemon */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runner.mjs');

interface Running {
  worker: Worker;
  killed: boolean;
  reason?: string;
  /** its stdout and stderr readers, held while the socket is full */
  outputs: Array<{ pause(): void; resume(): void }>;
}

const sock = new net.Socket({ fd: 3, readable: true, writable: true });
sock.on('close', () => process.exit(0));
sock.on('error', () => process.exit(0));
const channel = streamChannel(sock, MAX_LINE);
const workers = new Map<string, Running>();
const outbox = new HostOutbox(sock, MAX_LINE, MAX_UNSENT_BYTES, (instance) => {
  const entry = workers.get(instance);
  if (!entry || entry.killed) return;
  entry.killed = true;
  entry.reason = `flood: over ${MAX_UNSENT_BYTES} bytes of protocol messages waiting while the daemon held its channel (supervisor.channel, logs.output*)`;
  void entry.worker.terminate();
});
// The socket drained: the workers' output is read again.
outbox.onDrain(() => {
  for (const entry of workers.values()) for (const o of entry.outputs) o.resume();
});

/** Sends for a worker, in order with its other messages; while the socket is full its output waits. */
function sendFor(instance: string, msg: object): void {
  outbox.send(instance, msg);
  if (outbox.held) for (const o of workers.get(instance)?.outputs ?? []) o.pause();
}

function start(instance: string, env: Record<string, string>, memoryMb: number): void {
  if (workers.has(instance)) return;
  const worker = new Worker(runner, {
    env,
    stdout: true,
    stderr: true,
    // The heap cap is the worker's memory limit; V8 terminates the worker when it is reached.
    resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: Math.max(1, Math.min(4, Math.floor(memoryMb / 8))), stackSizeMb: 4 },
  });
  const entry: Running = { worker, killed: false, outputs: [] };
  workers.set(instance, entry);
  for (const stream of ['stdout', 'stderr'] as const) {
    const splitter = new LineSplitter(16 * 1024, {
      line: (line) => sendFor(instance, { c: 'out', instance, stream, line }),
      oversize: (n) => sendFor(instance, { c: 'out', instance, stream, line: `[line of ${n}+ bytes truncated]` }),
    });
    const readable = worker[stream];
    readable.on('data', (c: Buffer) => splitter.push(c));
    // Stopping the readable stops the worker's writes completing (Node's worker stdio asks for
    // more only as it is read); the splitter stops inside the chunk it is splitting.
    entry.outputs.push({
      pause: () => {
        splitter.pause();
        readable.pause();
      },
      resume: () => {
        splitter.resume();
        if (!outbox.held) readable.resume();
      },
    });
  }
  worker.on('online', () => outbox.sendControl({ c: 'started', instance }));
  worker.on('message', (m: unknown) => sendFor(instance, { w: instance, m }));
  worker.on('error', (err: Error & { code?: string }) => {
    entry.reason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `memory limit: worker heap over limits.memoryMb ${memoryMb} MB` : `uncaught: ${err.message}`;
    outbox.send(instance, { c: 'out', instance, stream: 'stderr', line: err.stack ?? err.message });
  });
  worker.on('exit', (code) => {
    workers.delete(instance);
    const exit = { c: 'exit', instance, code: entry.killed ? null : code, signal: entry.killed ? 'SIGKILL' : null, ...(entry.reason ? { reason: entry.reason } : {}) };
    // after its last messages; a worker whose queue was dropped says it ahead of the others
    if (entry.killed) outbox.sendControl(exit);
    else outbox.send(instance, exit);
    outbox.forget(instance);
  });
}

function signal(instance: string, sig: string): void {
  const entry = workers.get(instance);
  if (!entry) return;
  if (sig === 'SIGKILL') {
    entry.killed = true;
    outbox.drop(instance);
    void entry.worker.terminate();
  } else {
    entry.worker.postMessage({ signal: sig });
  }
}

channel.onMessage((v) => {
  const msg = v as { c?: string; w?: string; m?: unknown; instance?: string; env?: Record<string, string>; memoryMb?: number; signal?: string };
  if (typeof msg.w === 'string') workers.get(msg.w)?.worker.postMessage(msg.m);
  else if (msg.c === 'start' && msg.instance && msg.env) start(msg.instance, msg.env, msg.memoryMb ?? 64);
  else if (msg.c === 'signal' && msg.instance && msg.signal) signal(msg.instance, msg.signal);
});
