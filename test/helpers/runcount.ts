/**
 * The `runcount` fixture agent under other ids, policies and modes (issue 17): every start appends
 * its instance id to runs.log in its data dir, so a test counts how often an agent really ran.
 */
import fs from 'node:fs';
import path from 'node:path';
import { copyFixtureAgent } from './tmp';

/** a copy of `runcount` in `into` as agent `id`; mode exit0 | exit1 | stay */
export function runcountAgent(into: string, id: string, mode: 'exit0' | 'exit1' | 'stay', restart: Record<string, unknown>): string {
  const dir = copyFixtureAgent('runcount', fs.mkdtempSync(path.join(into, `${id}-`)));
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ ...m, identity: { id, name: id }, restart: { backoff: { initialMs: 20, maxMs: 50 }, ...restart }, env: { RUNCOUNT_MODE: mode } }));
  return dir;
}

/** the runs an agent counted, one instance id per start */
export function runsOf(home: string, agent: string): string[] {
  try {
    return fs.readFileSync(path.join(home, 'data', agent, 'runs.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** live agent runner processes started by the daemon of this home */
export function runnerPids(home: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (cmd.includes(`${home}/lib/runner.mjs`) && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}
