/**
 * WASM agents through the real daemon and CLI (issue 5): lifecycle, the watchdog with cell-mates
 * restored from their snapshots, memory caps, many agents, escapes, floods and the HAL by grant.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentStatus } from '../../runtime/agents/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../runtime/cli/client';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, REPO, tmpDir, waitFor } from '../helpers/tmp';
import { ECHO_BODY, wasmAgent, wat } from '../helpers/wasm';

/** a row of `ps --json` */
type Ps = AgentStatus;

let d: RunningDaemon;
beforeAll(async () => {
  // the 200-agent test needs 800 MB of the WASM total, whatever a quarter of this machine's RAM is
  d = await startDaemon({ config: { wasm: { watchdogMs: 20, cellSize: 8, totalMemoryMb: 8192 }, supervisor: { backoff: { initialMs: 100, maxMs: 500 } } } });
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

const lastWord = (s: string): string => s.trim().split(/\s+/).pop() ?? '';
const ps = async (): Promise<Ps[]> => d.json<Ps[]>(['ps', '--all']);
const one = async (instance: string): Promise<Ps | undefined> => (await ps()).find((p) => p.instance === instance);
const logs = async (instance: string): Promise<string> => (await d.cli(['logs', instance])).stdout;
const spawn = async (folder: string): Promise<string> => {
  const r = await d.cli(['spawn', folder]);
  if (r.code !== 0) throw new Error(`spawn ${folder} failed: ${r.stderr}`);
  return lastWord(r.stdout);
};

describe('WASM agents through the daemon', () => {
  it('spawns, lists, kills and restarts WASM instances with the real CLI', async () => {
    const inst = await spawn(path.join(REPO, 'examples/agents/thermostat'));
    const row = await waitFor('thermostat running', async () => ((await one(inst))?.state === 'running' ? one(inst) : undefined));
    expect(row).toMatchObject({ agent: 'thermostat', driver: 'wasm', osPid: null, restarts: 0 });
    // a singleton: a second spawn names the running instance
    expect((await d.cli(['spawn', 'thermostat'])).stderr).toContain(inst);
    expect((await d.cli(['kill', inst])).code).toBe(0);
    expect((await one(inst))?.state).toBe('exited');
    const again = await spawn('thermostat');
    await waitFor('respawned', async () => (await one(again))?.state === 'running');
    await d.cli(['kill', again]);

    const crasher = await wasmAgent({
      id: 'wcrash',
      body: `(data (i32.const 16) "boom") (func (export "init") (drop (call $timer_set (i32.const 16) (i32.const 4) (i32.const 50) (i32.const 0)))) (func (export "on_event") (param i32 i32) unreachable)`,
      manifest: { restart: { policy: 'on-failure', maxRetries: 2, backoff: { initialMs: 50, maxMs: 100 } } },
    });
    const c = await spawn(crasher);
    const failed = await waitFor('crasher failed', async () => ((await one(c))?.state === 'failed' ? one(c) : undefined));
    expect(failed?.restarts).toBe(2);
    expect(failed?.reason).toContain('trap: unreachable');
    expect(await logs(c)).toMatch(/exited \(code 1, signal null, trap: unreachable\)/);
  });

  it('stops a busy loop past callTimeoutMs; its cell-mates come back from their snapshots; the daemon keeps serving', async () => {
    const counters = [await spawn(path.join(FIXTURES, 'agents/wcounter')), await spawn('wcounter')];
    for (const c of counters) await waitFor(`${c} counting`, async () => /n=5\b/.test(await logs(c)));
    const spinner = await wasmAgent({
      id: 'wspin',
      body: `(data (i32.const 16) "spin") (func (export "init") (drop (call $timer_set (i32.const 16) (i32.const 4) (i32.const 100) (i32.const 0)))) (func (export "on_event") (param i32 i32) (loop $l (br $l)))`,
      manifest: { limits: { callTimeoutMs: 300 }, restart: { policy: 'no' } },
    });
    const s = await spawn(spinner);
    const gone = await waitFor('spinner stopped', async () => ((await one(s))?.state === 'exited' ? one(s) : undefined));
    expect(gone?.reason).toMatch(/call timeout: instance wspin-\S+ ran \d+ ms, over limits.callTimeoutMs 300 ms/);
    for (const c of counters) {
      const text = await waitFor(`${c} restored and counting on`, async () => {
        const t = await logs(c);
        const restored = /restored n=(\d+)/.exec(t);
        return restored && new RegExp(`n=${Number(restored[1]) + 2}\\b`).test(t.slice(restored.index)) ? t : undefined;
      });
      expect(text).toContain('cell restarted because instance wspin-');
      expect(text).toContain('re-hosted from its last snapshot');
      expect(Number(/restored n=(\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(5);
      expect((await one(c))).toMatchObject({ state: 'running', restarts: 0 });
    }
    expect((await d.cli(['call', 'daemon.ping'])).code).toBe(0);
    const status = await d.json<{ wasm: { restarts: number } }>(['status']);
    expect(status.wasm.restarts).toBeGreaterThanOrEqual(1);
    for (const c of counters) await d.cli(['kill', c]);
  });

  it('caps memory: growth past the cap fails inside the agent; no maximum or over the cap is refused at add', async () => {
    const grow = await wasmAgent({
      id: 'wgrow',
      memory: '1 1000',
      body: `(data (i32.const 16) "capped at 64 pages") (data (i32.const 48) "not capped")
        (func (export "init")
          (block $done (loop $l (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $l)))
          (if (i32.eq (memory.size) (i32.const 64))
            (then (call $log (i32.const 1) (i32.const 16) (i32.const 18)))
            (else (call $log (i32.const 1) (i32.const 48) (i32.const 10))))
          unreachable)
        (func (export "on_event") (param i32 i32))`,
      manifest: { limits: { memoryMb: 4 }, restart: { policy: 'no' } },
    });
    const g = await spawn(grow);
    await waitFor('grower ended', async () => (await one(g))?.state === 'exited');
    expect(await logs(g)).toContain('capped at 64 pages');
    expect((await one(g))?.reason).toContain('trap: unreachable');

    const noMax = await wasmAgent({ id: 'wnomax', memory: '1', body: ECHO_BODY });
    const r1 = await d.cli(['agent', 'add', noMax]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain('OSZ_E_WASM_REFUSED');
    expect(r1.stderr).toContain('declares no maximum');
    const big = await wasmAgent({ id: 'wbig', memory: '100 200', body: ECHO_BODY, manifest: { limits: { memoryMb: 4 } } });
    const r2 = await d.cli(['agent', 'add', big]);
    expect(r2.stderr).toContain('OSZ_E_WASM_REFUSED');
    expect(r2.stderr).toMatch(/memory starts at 100 pages .* over limits.memoryMb 4/);
    expect((await d.json<Array<{ id: string }>>(['agent', 'ls'])).map((a) => a.id)).not.toContain('wbig');
  });

  it('runs 200 agents in shared cells at once', async () => {
    const folder = await wasmAgent({ id: 'wmany', body: ECHO_BODY, manifest: { limits: { memoryMb: 4 } } });
    await d.cli(['agent', 'add', folder]);
    const client = await ControlClient.connect(d.socket);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) ids.push(((await client.call('agents.spawn', { agent: 'wmany' })) as { instance: string }).instance);
      const status = await d.json<{ wasm: { guests: number; cells: number } }>(['status']);
      expect(status.wasm.guests).toBeGreaterThanOrEqual(200);
      const running = (await ps()).filter((p) => p.agent === 'wmany' && p.state === 'running');
      expect(running).toHaveLength(200);
      expect(status.wasm.cells).toBeLessThanOrEqual(Math.ceil(200 / 8) + 2);
      await client.call('agents.kill', { instance: 'wmany' });
      expect((await ps()).filter((p) => p.agent === 'wmany' && p.state === 'running')).toHaveLength(0);
    } finally {
      client.close();
    }
  }, 120_000);

  it('refuses escapes at add: .., absolute paths, a symlink to /dev, foreign imports, malformed, truncated and 50 MB modules', async () => {
    const base = await wasmAgent({ id: 'wesc', body: ECHO_BODY });
    const add = async (mutate: (dir: string) => void): Promise<string> => {
      const dir = path.join(tmpDir('osd-esc-'), 'wesc');
      fs.cpSync(base, dir, { recursive: true });
      mutate(dir);
      const r = await d.cli(['agent', 'add', dir]);
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    const manifest = (dir: string, module: string): void => fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ identity: { id: 'wesc', name: 'x' }, runtime: { module } }));
    expect(await add((dir) => manifest(dir, '../wesc/agent.wasm'))).toMatch(/OSZ_E_MANIFEST[\s\S]*must stay inside the agent folder/);
    expect(await add((dir) => manifest(dir, '/dev/zero'))).toMatch(/OSZ_E_MANIFEST[\s\S]*must be relative/);
    expect(await add((dir) => {
      fs.mkdirSync(path.join(dir, 'plugins/p'), { recursive: true });
      fs.symlinkSync('/dev', path.join(dir, 'plugins/p/dev'));
    })).toContain('OSZ_E_INSTALL_REFUSED');
    const foreign = await wat('(module (import "env" "memory" (memory 1 16)) (import "env" "system" (func (param i32))) (func (export "alloc") (param i32) (result i32) i32.const 0) (func (export "init")) (func (export "on_event") (param i32 i32)))');
    expect(await add((dir) => fs.writeFileSync(path.join(dir, 'agent.wasm'), foreign))).toMatch(/OSZ_E_WASM_REFUSED[\s\S]*imports func "env.system"/);
    expect(await add((dir) => fs.writeFileSync(path.join(dir, 'agent.wasm'), Buffer.from('this is not wasm at all')))).toContain('OSZ_E_WASM_REFUSED');
    expect(await add((dir) => fs.writeFileSync(path.join(dir, 'agent.wasm'), fs.readFileSync(path.join(base, 'agent.wasm')).subarray(0, 40)))).toContain('OSZ_E_WASM_REFUSED');
    expect(await add((dir) => {
      const huge = Buffer.alloc(50 * 1024 * 1024);
      Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]).copy(huge);
      fs.writeFileSync(path.join(dir, 'agent.wasm'), huge);
    })).toMatch(/OSZ_E_WASM_REFUSED[\s\S]*module is 52428800 bytes/);
    expect((await d.cli(['call', 'daemon.ping'])).code).toBe(0);
  });

  it('keeps a running guest inside its install copy: no .., absolute paths, /dev or writes through WASI', async () => {
    const folder = await wasmAgent({
      id: 'wfs',
      imports: '(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))',
      files: { 'data.txt': 'hello' },
      body: `
        (data (i32.const 16) "../../etc/passwd") (data (i32.const 48) "/etc/passwd") (data (i32.const 64) "/dev/null")
        (data (i32.const 80) "agent.json") (data (i32.const 96) "sub/../../x") (data (i32.const 112) "data.txt")
        (func $try (param $p i32) (param $l i32) (param $oflags i32) (param $rights i64) (local $e i32)
          (local.set $e (call $path_open (i32.const 3) (i32.const 0) (local.get $p) (local.get $l) (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 300)))
          (i32.store8 (i32.const 200) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
          (i32.store8 (i32.const 201) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
          (call $log (i32.const 1) (i32.const 200) (i32.const 2)))
        (func (export "init")
          (call $try (i32.const 16) (i32.const 16) (i32.const 0) (i64.const 2))
          (call $try (i32.const 48) (i32.const 11) (i32.const 0) (i64.const 2))
          (call $try (i32.const 64) (i32.const 9) (i32.const 0) (i64.const 2))
          (call $try (i32.const 96) (i32.const 11) (i32.const 0) (i64.const 2))
          (call $try (i32.const 112) (i32.const 8) (i32.const 1) (i64.const 2))
          (call $try (i32.const 80) (i32.const 10) (i32.const 0) (i64.const 64))
          (call $try (i32.const 80) (i32.const 10) (i32.const 0) (i64.const 2)))
        (func (export "on_event") (param i32 i32))`,
      manifest: { restart: { policy: 'no' } },
    });
    const w = await spawn(folder);
    const text = await waitFor('wfs tried', async () => {
      const t = await logs(w);
      return (t.match(/ info \d\d$/gm) ?? []).length >= 7 ? t : undefined;
    });
    // NOTCAPABLE for .., absolute paths and /dev; ROFS for create and write rights; 0 for a file of its own
    expect((text.match(/ info (\d\d)$/gm) ?? []).map((l) => l.slice(-2))).toEqual(['76', '76', '76', '76', '69', '69', '00']);
  });

  it('rate-limits floods of log lines and events, visibly, and the daemon stays up', async () => {
    const f = await spawn(path.join(FIXTURES, 'agents/wflood'));
    const text = await waitFor('flood report', async () => {
      const t = (await d.cli(['logs', f, '-n', '5000'])).stdout;
      // the report comes with the cell's next usage sample (supervisor.limits.sampleMs)
      return t.includes('emit refused') && t.includes('rate limit: dropped') ? t : undefined;
    });
    expect(text).toMatch(/rate limit: dropped \d+ log line\(s\) and \d+ event\(s\)/);
    const refused = Number(/emit refused (\d+) other 0 ungranted OSZ_E_FORBIDDEN/.exec(text)?.[1]);
    expect(refused).toBeGreaterThan(19_000);
    expect((text.match(/flood line/g) ?? []).length).toBeLessThan(1000);
    expect((await d.cli(['call', 'daemon.ping'])).code).toBe(0);
  });

  it('reads sensors from the mirror and actuates by grant; results arrive as hal:result events', async () => {
    const h = await spawn(path.join(FIXTURES, 'agents/whal'));
    const text = await waitFor('whal results', async () => {
      const t = await logs(h);
      return /result \d+ cam0/.test(t) && /result \d+ fan/.test(t) ? t : undefined;
    });
    expect(text).toMatch(/temperature [\d.]+ age<60s=true/);
    expect(text).toContain('humidity HAL_E_DENIED');
    expect(text).toContain('nosuch HAL_E_UNKNOWN_DEVICE');
    expect(text).toContain('heater HAL_E_DENIED');
    expect(text).toMatch(/fan request 1\b/);
    expect(text).toMatch(/result 1 fan ok=true/);
    expect(text).toMatch(/result \d+ cam0 ok=true code= jpeg=[1-9]\d+/);
    expect(text).not.toMatch(/result \d+ heater/);
    const fan = (await d.json<{ devices: Array<{ id: string; state?: string; owner?: string | null }> }>(['hal', 'ls'])).devices.find((x) => x.id === 'fan');
    expect(fan?.state).toBe('on');
    // the agent ended: the HAL returned its actuator to the safe state
    await waitFor('whal gone', async () => (await one(h))?.state !== 'running' || (await d.cli(['kill', h])).code === 0);
    await waitFor('fan safe', async () => (await d.json<{ devices: Array<{ id: string; state?: string }> }>(['hal', 'ls'])).devices.find((x) => x.id === 'fan')?.state === 'off');
  });

  it('scaffolds an AssemblyScript agent that builds and runs', async () => {
    const parent = tmpDir('osd-new-as-');
    const r = await d.cli(['new', 'agent', 'my-wasm', '--lang', 'as', '--dir', parent]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('built ');
    expect(fs.existsSync(path.join(parent, 'my-wasm/build/my-wasm.wasm'))).toBe(true);
    const inst = await spawn(path.join(parent, 'my-wasm'));
    await waitFor('my-wasm running', async () => (await one(inst))?.state === 'running');
    await waitFor('my-wasm logged', async () => (await logs(inst)).includes('my-wasm started'));
    expect((await one(inst))?.driver).toBe('wasm');
    await d.cli(['kill', inst]);
  });
});
