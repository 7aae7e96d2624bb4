/**
 * Agent output from a driver to its listeners (the instance log, the heap-exhaustion check).
 * A listener answers how many ms the driver should stop reading the agent's output (its output
 * cap is spent, runtime/agents/output-cap.ts); a driver that can pause its source does, so a
 * flooding agent blocks on its own writes (issue 16).
 */
export type OutputStream = 'stdout' | 'stderr';
export type OutputFn = (stream: OutputStream, line: string) => number | void;

/** Hands a line to every listener; the longest pause any of them asks for. */
export function emitOutput(fns: readonly OutputFn[], stream: OutputStream, line: string): number {
  let pauseMs = 0;
  for (const f of fns) pauseMs = Math.max(pauseMs, f(stream, line) ?? 0);
  return pauseMs;
}
