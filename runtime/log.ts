/**
 * The daemon's own log: one line per record on stdout, journald-friendly. Under systemd
 * (JOURNAL_STREAM set) each line starts with the syslog priority `<N>` so journald keeps levels;
 * elsewhere lines carry an ISO time. Subsystems log through an area name, never console.*.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export interface Logger {
  debug(area: string, msg: string): void;
  info(area: string, msg: string): void;
  warn(area: string, msg: string): void;
  error(area: string, msg: string): void;
  setLevel(level: LogLevel): void;
}

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; journald?: boolean } = {}): Logger {
  let min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const journald = opts.journald ?? process.env.JOURNAL_STREAM !== undefined;
  const emit = (level: LogLevel, area: string, msg: string): void => {
    if (ORDER[level] < min) return;
    const clean = msg.replace(/[\r\n]+/g, ' ⏎ ');
    write(journald ? `<${PRIORITY[level]}>${area}: ${clean}` : `${new Date().toISOString()} ${level.padEnd(5)} ${area}: ${clean}`);
  };
  return {
    debug: (a, m) => emit('debug', a, m),
    info: (a, m) => emit('info', a, m),
    warn: (a, m) => emit('warn', a, m),
    error: (a, m) => emit('error', a, m),
    setLevel: (level) => {
      min = ORDER[level];
    },
  };
}

/** A logger that keeps lines in memory: for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', journald: true, write: (l) => lines.push(l) });
  return Object.assign(log, { lines });
}
