/** One line for a rule-set problem that does not stop an apply (issue 17: an agent that is not installed). */
import type { RuleProblem } from './load';

export function formatWarning(w: RuleProblem): string {
  return `rule ${w.rule ?? '?'}${w.line ? ` (line ${w.line}:${w.column ?? 0})` : ''}: ${w.message}`;
}
