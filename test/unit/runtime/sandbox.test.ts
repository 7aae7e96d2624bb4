/** The sandbox plan: own uid only when a probe confirms it, refusal otherwise, sharing only when asked. */
import { describe, expect, it } from 'vitest';
import { NEEDED_CAPS, planSandbox, type SandboxHost, statusProblem } from '../../../runtime/sandbox';

const CLEAN = ['Uid:\t61000\t61000\t61000\t61000', 'Gid:\t61000\t61000\t61000\t61000', 'Groups:\t', ...['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map((c) => `${c}:\t0000000000000000`), 'NoNewPrivs:\t1'].join('\n');
const ALL_NEEDED = Object.values(NEEDED_CAPS).reduce((a, b) => a | (1n << BigInt(b)), 0n);

function host(over: Partial<SandboxHost> = {}): SandboxHost & { runs: string[][] } {
  const runs: string[][] = [];
  return {
    uid: 999,
    capEff: ALL_NEEDED,
    setprivPath: '/usr/bin/setpriv',
    run: (file, args) => {
      runs.push([file, ...args]);
      return Promise.resolve(CLEAN);
    },
    tryChown: () => undefined,
    runs,
    ...over,
  };
}
const cfg = { setpriv: 'auto' as const, shareUid: false, uidBase: 61000 };

describe('planSandbox', () => {
  it('gives agents their own uid when the daemon has the capabilities and the probe confirms it', async () => {
    const h = host();
    const plan = await planSandbox(cfg, h);
    expect(plan).toMatchObject({ mode: 'own-uid', separateUid: true, daemon: { uid: 999 } });
    expect(plan.daemon.caps).toEqual(['CAP_CHOWN', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP']);
    expect(h.runs[0]).toEqual(expect.arrayContaining(['--reuid=61000', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '/proc/self/status']));
  });

  it('refuses process agents, naming what is missing, when a non-root daemon lacks a capability', async () => {
    const plan = await planSandbox(cfg, host({ capEff: ALL_NEEDED & ~(1n << 8n) }));
    expect(plan).toMatchObject({ mode: 'refused', separateUid: false });
    expect(plan.reason).toBe('the daemon (uid 999) lacks CAP_SETPCAP');
    expect(plan.warnings.join()).toContain('sandbox.shareUid');
  });

  it('refuses when the probe shows the agent kept something (a bounding set that cannot be dropped, a group)', async () => {
    for (const [bad, says] of [
      [CLEAN.replace('CapBnd:\t0000000000000000', 'CapBnd:\t00000000000000e0'), 'CapBnd 00000000000000e0'],
      [CLEAN.replace('Groups:\t', 'Groups:\t20 44'), 'groups 20 44'],
      [CLEAN.replace('Uid:\t61000\t61000\t61000\t61000', 'Uid:\t999\t999\t999\t999'), 'uids 999'],
      [CLEAN.replace('NoNewPrivs:\t1', 'NoNewPrivs:\t0'), 'no_new_privs'],
    ] as const) {
      const plan = await planSandbox(cfg, host({ run: () => Promise.resolve(bad) }));
      expect(plan.mode).toBe('refused');
      expect(plan.reason).toContain(says);
    }
  });

  it('refuses when setpriv fails (a syscall filter without capset) or the data dir cannot be chowned', async () => {
    const failing = await planSandbox(cfg, host({ run: () => Promise.reject(new Error('setpriv: capset failed: Operation not permitted')) }));
    expect(failing.reason).toContain('capset failed');
    const noChown = await planSandbox(cfg, host({ tryChown: () => 'chown: EPERM' }));
    expect(noChown).toMatchObject({ mode: 'refused', reason: 'chown: EPERM' });
    const noSetpriv = await planSandbox(cfg, host({ setprivPath: undefined }));
    expect(noSetpriv.reason).toContain('install util-linux');
  });

  it('shares the uid only when sandbox.shareUid says so, and never for a root daemon', async () => {
    const shared = await planSandbox({ ...cfg, shareUid: true }, host({ capEff: 0n }));
    expect(shared.mode).toBe('shared-uid');
    expect(shared.warnings.join()).toContain('development only');
    const root = await planSandbox({ ...cfg, shareUid: true }, host({ uid: 0, setprivPath: undefined }));
    expect(root.mode).toBe('refused');
    await expect(planSandbox({ ...cfg, setpriv: 'off' }, host())).rejects.toMatchObject({ code: 'OSZ_E_CONFIG' });
    await expect(planSandbox({ ...cfg, setpriv: 'off', shareUid: true }, host({ uid: 0 }))).rejects.toMatchObject({ code: 'OSZ_E_CONFIG' });
    await expect(planSandbox({ ...cfg, setpriv: 'on' }, host({ capEff: 0n }))).rejects.toMatchObject({ code: 'OSZ_E_CONFIG' });
  });
});

describe('statusProblem', () => {
  it('accepts only the clean status', () => {
    expect(statusProblem(CLEAN, 61000)).toBeUndefined();
    expect(statusProblem('', 61000)).toContain('uids');
  });
});
