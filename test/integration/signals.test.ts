/**
 * Issue 17: `signal <instance> HUP|USR1|USR2` delivers the signal and changes nothing else, for
 * every driver: the same instance keeps running (same pid, no restart spent), and the agent's
 * onSignal saw it, or, without one, the runner logged it and ignored it. (Docker: docker.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  state: string;
  osPid: number | null;
  restarts: number;
}

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

/** a copy of `sigs` under another id, driver and handler setting */
function sigsAgent(id: string, driver: 'process' | 'worker', handler: boolean): string {
  const dir = copyFixtureAgent('sigs');
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ ...m, identity: { id, name: id }, runtime: { driver, entry: 'main.mjs' }, env: { SIGS_HANDLER: handler ? 'yes' : 'no' } }));
  return dir;
}

const row = async (id: string): Promise<Status | undefined> => (await d.json<Status[]>(['ps', '--all'])).find((s) => s.instance === id);
const logText = async (id: string): Promise<string> => (await d.cli(['logs', id, '-n', '500'])).stdout;

/** spawns, waits for `up`, sends HUP USR1 USR2, waits for each `seen(sig)` line; the same run goes on */
async function survivesSignals(source: string, up: string, seen: (sig: string) => string): Promise<void> {
  const r = await d.cli(['spawn', source]);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim().split(' ').pop() ?? '';
  await waitFor(`${id} up`, async () => (await logText(id)).includes(up));
  const before = await waitFor(`${id} running`, async () => {
    const s = await row(id);
    return s?.state === 'running' ? s : undefined;
  });
  for (const sig of ['HUP', 'USR1', 'USR2', 'HUP']) {
    const sent = await d.cli(['signal', id, sig]);
    expect(sent.code, sent.stderr).toBe(0);
  }
  // each one seen, HUP twice, by the same run: same pid, no restart, no exit in the log
  const count = (text: string, sig: string): number => text.split(seen(sig)).length - 1;
  await waitFor(`${id} saw HUP, USR1, USR2, HUP`, async () => {
    const text = await logText(id);
    return count(text, 'SIGHUP') === 2 && count(text, 'SIGUSR1') === 1 && count(text, 'SIGUSR2') === 1;
  }, 20_000, 200);
  const after = await row(id);
  expect(after).toMatchObject({ state: 'running', osPid: before.osPid, restarts: 0 });
  expect(await logText(id)).not.toContain('exited (');
  expect((await d.cli(['kill', id])).code).toBe(0);
}

describe('HUP, USR1 and USR2 never end an agent', () => {
  it('process agent with onSignal', async () => {
    await survivesSignals(sigsAgent('psig', 'process', true), 'sigs up', (sig) => `onSignal ${sig}`);
  });

  it('process agent without onSignal: logged and ignored', async () => {
    await survivesSignals(sigsAgent('pnosig', 'process', false), 'sigs up', (sig) => `${sig} ignored: the agent has no onSignal`);
  });

  it('worker agent with onSignal', async () => {
    await survivesSignals(sigsAgent('wsig', 'worker', true), 'sigs up', (sig) => `onSignal ${sig}`);
  });

  it('worker agent without onSignal: logged and ignored', async () => {
    await survivesSignals(sigsAgent('wnosig', 'worker', false), 'sigs up', (sig) => `${sig} ignored: the agent has no onSignal`);
  });

  it('WASM agent with the AssemblyScript SDK\'s lifecycle.onSignal', async () => {
    await survivesSignals(path.join(FIXTURES, 'agents/wsignal'), 'wsignal up', (sig) => `onSignal ${sig} #`);
  });

  it('TERM still ends an agent that has an onSignal, cleanly and for good', async () => {
    const id = (await d.cli(['spawn', 'psig'])).stdout.trim().split(' ').pop() ?? '';
    await waitFor('running', async () => (await row(id))?.state === 'running');
    expect((await d.cli(['signal', id, 'TERM'])).code).toBe(0);
    await waitFor('exited', async () => (await row(id))?.state === 'exited');
    expect(await row(id)).toMatchObject({ restarts: 0 });
    expect(await logText(id)).toContain('exited (code 0, signal null)');
  });
});
