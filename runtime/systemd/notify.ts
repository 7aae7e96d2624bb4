/**
 * sd_notify for `Type=notify` units (DESIGN §10, issue 11): `READY=1` once the daemon serves,
 * `WATCHDOG=1` at half of `WATCHDOG_USEC` from the daemon's own event loop (so a wedged loop stops
 * the pings and systemd restarts it), `STATUS=` lines, and `STOPPING=1` when a stop begins. Off
 * systemd (no `NOTIFY_SOCKET`) every call is a no-op and the native datagram module is never loaded.
 * Node has no AF_UNIX datagram sockets, hence `unix-dgram`.
 */

export interface Notifier {
  ready(status?: string): void;
  status(status: string): void;
  stopping(): void;
  close(): void;
  /** the watchdog interval in ms, or undefined when systemd asked for none */
  readonly watchdogMs: number | undefined;
}

export type Send = (message: string) => void;

const NOOP: Notifier = { ready: () => undefined, status: () => undefined, stopping: () => undefined, close: () => undefined, watchdogMs: undefined };

/** the watchdog ping interval systemd asks for (half of WATCHDOG_USEC), if it is meant for this process */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

/** a notifier over `send`; starts the watchdog pings when systemd asked for them */
export function notifierWith(send: Send, watchdogMs: number | undefined): Notifier {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  if (watchdogMs !== undefined) {
    timer = setInterval(() => send('WATCHDOG=1'), watchdogMs);
    timer.unref();
  }
  return {
    watchdogMs,
    ready: (status) => send(`READY=1\nMAINPID=${process.pid}${status ? `\nSTATUS=${status}` : ''}`),
    status: (status) => send(`STATUS=${status.replace(/\n/g, ' ')}`),
    stopping: () => {
      if (stopped) return;
      stopped = true;
      send('STOPPING=1');
    },
    close: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** the notifier for this process: real under systemd, a no-op elsewhere */
export async function systemdNotifier(env: NodeJS.ProcessEnv, warn: (m: string) => void): Promise<Notifier> {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return NOOP;
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    warn(`NOTIFY_SOCKET ${socket.slice(0, 100)} is neither a path nor an abstract socket; not notifying systemd`);
    return NOOP;
  }
  let dgram: typeof import('unix-dgram');
  try {
    const mod = (await import('unix-dgram')) as typeof import('unix-dgram') & { default?: typeof import('unix-dgram') };
    dgram = mod.default ?? mod;
  } catch (err) {
    warn(`cannot load unix-dgram, so systemd is not notified (the unit's start will time out): ${(err as Error).message}`);
    return NOOP;
  }
  const client = dgram.createSocket('unix_dgram');
  client.on('error', (err: Error) => warn(`sd_notify: ${err.message}`));
  const target = socket.startsWith('@') ? `\0${socket.slice(1)}` : socket;
  const send: Send = (message) => {
    const buf = Buffer.from(message);
    client.send(buf, 0, buf.length, target);
  };
  const n = notifierWith(send, watchdogInterval(env));
  return { ...n, watchdogMs: n.watchdogMs, close: () => (n.close(), client.close()) };
}
