/**
 * Every rule action and event source, by its effect in the real daemon on the sim board (issue 17:
 * "every action does what it says"): `hal` steps with a delay move the actuator on and then off; a
 * sensor reading fires a rule that moves another; `signal` stops and continues the agent's process
 * (its state in /proc); `kill` ends it for good; a cron timer spawns an agent; `publish` on a device
 * without a broker fails with OSZ_E_FLEET_OFF. Spawn on webhooks and probes is in rules.test.ts,
 * publish to a real broker in fleet-suite.ts and events-durable.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

interface Envelope {
  id: string;
  type: string;
  data: Record<string, unknown>;
  causedBy?: string;
}

interface Status {
  instance: string;
  agent: string;
  state: string;
  desired: string;
  osPid: number | null;
}

const BASE = [
  'grants: { actuators: [led, fan] }',
  'timers: { minute: "* * * * *" }',
  'rules:',
  '  - { id: lights, on: "test:lights", action: { steps: [ { hal: { device: led, command: "on" } }, { delay: 400ms }, { hal: { device: led, command: "off" } } ] } }',
  '  - { id: hot, on: "hal:sensor.temperature", if: "value > -100.0", throttle: 1h, action: "hal(fan, on)" }',
  '  - { id: minute, on: "cron:minute", throttle: 1h, action: "spawn(code-reviewer-agent)" }',
  '  - { id: out, on: "test:publish", action: "publish(alerts/door)" }',
];

let d: RunningDaemon;
const hal = async (id: string): Promise<string | undefined> => (await d.json<{ devices: Array<{ id: string; state?: string }> }>(['hal', 'ls'])).devices.find((x) => x.id === id)?.state;
const events = (type: string): Promise<Envelope[]> => d.json<Envelope[]>(['events', 'tail', '--type', type, '-n', '200']);
/** the process state letter of /proc/<pid>/stat: R, S, T (stopped), Z... */
const procState = (pid: number): string | undefined => {
  try {
    return /^\d+ \(.*\) (\w)/.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
};

beforeAll(async () => {
  const home = path.join(tmpDir('osd-actions-'), 'h');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'orchestration.yaml'), BASE.join('\n') + '\n');
  d = await startDaemon({ home });
  for (const a of ['code-reviewer-agent', 'devops-agent']) expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents', a)])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

describe('rule actions and sources, by their effect', () => {
  it('hal steps with a delay move the actuator on, then off, as the rule', async () => {
    expect(await hal('led')).toBe('off');
    expect((await d.cli(['events', 'emit', 'test:lights'])).code).toBe(0);
    await waitFor('led on', async () => (await hal('led')) === 'on');
    await waitFor('led off again', async () => (await hal('led')) === 'off');
    const moves = (await events('hal:actuator.led')).filter((e) => e.data.by !== 'hal').map((e) => [e.data.state, e.data.by]);
    expect(moves).toEqual([
      ['on', 'rules:lights'],
      ['off', 'rules:lights'],
    ]);
  });

  it('a sensor reading fires a rule that moves an actuator', async () => {
    await waitFor('the fan on', async () => (await hal('fan')) === 'on', 20_000);
    const moved = (await events('hal:actuator.fan')).find((e) => e.data.state === 'on');
    expect(moved?.data.by).toBe('rules:hot');
    // caused by a reading, which is not in the event log (samples stay in RAM), but by a rule's run
    const fired = (await events('rules:fired')).find((e) => e.data.rule === 'hot');
    expect(fired?.data.type).toBe('hal:sensor.temperature');
  });

  it('signal stops and continues the agent’s process, and kill ends it for good', async () => {
    const spawned = await d.json<{ instance: string }>(['call', 'agents.spawn', '{"agent":"devops-agent"}']);
    const me = async (): Promise<Status | undefined> => (await d.json<Status[]>(['ps', '-a'])).find((s) => s.instance === spawned.instance);
    const pid = (await waitFor('running', async () => {
      const s = await me();
      return s?.state === 'running' && s.osPid ? s : undefined;
    })).osPid ?? 0;
    const rules = [...BASE, `  - { id: pause, on: "test:pause", action: "signal(${spawned.instance}, SIGSTOP)" }`, `  - { id: resume, on: "test:resume", action: "signal(${spawned.instance}, SIGCONT)" }`, '  - { id: stop, on: "test:stop", action: "kill(devops-agent)" }'];
    const file = path.join(tmpDir('osd-actions-'), 'rules.yaml');
    fs.writeFileSync(file, rules.join('\n') + '\n');
    expect((await d.cli(['rules', 'apply', file])).code).toBe(0);

    expect(procState(pid)).not.toBe('T');
    expect((await d.cli(['events', 'emit', 'test:pause'])).code).toBe(0);
    await waitFor('the process stopped', () => procState(pid) === 'T');
    expect((await d.cli(['events', 'emit', 'test:resume'])).code).toBe(0);
    await waitFor('the process continued', () => procState(pid) !== 'T');
    expect((await me())?.state).toBe('running');

    expect((await d.cli(['events', 'emit', 'test:stop'])).code).toBe(0);
    await waitFor('the process gone', () => procState(pid) === undefined, 20_000);
    const after = await waitFor('the instance exited', async () => {
      const s = await me();
      return s && s.state !== 'running' ? s : undefined;
    });
    expect(after.desired).toBe('stopped');
    const stopped = (await events('rules:fired')).filter((e) => e.data.rule === 'stop');
    expect(stopped).toHaveLength(1);
  }, 60_000);

  it('publish on a device without a broker fails with OSZ_E_FLEET_OFF, and says so', async () => {
    const e = await d.json<Envelope>(['events', 'emit', 'test:publish']);
    const failed = await waitFor('the failure', async () => (await events('rules:failed')).find((x) => x.data.event === e.id));
    expect(failed.data).toMatchObject({ rule: 'out', code: 'OSZ_E_FLEET_OFF' });
  });

  it('a cron timer raises its event at the minute, which spawns the agent', async () => {
    const spawned = await waitFor('the agent spawned by the cron rule', async () => (await events('agent:spawned')).find((e) => e.data.agent === 'code-reviewer-agent'), 70_000);
    const cron = (await events('cron:minute')).find((e) => e.id === spawned.causedBy);
    expect(cron?.data).toMatchObject({ name: 'minute' });
    expect(new Date(String(cron?.data.scheduledFor)).getSeconds()).toBe(0);
  }, 80_000);
});
