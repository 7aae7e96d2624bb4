/**
 * Issue 16, the OpenSSL start-up attack, against the real daemon and CLI: an agent folder ships
 * an OpenSSL config and a provider `.so` (compiled here with `cc`) whose constructor leaves a
 * marker. Started directly, `node` loads that `.so` before any of its own code runs; through the
 * daemon, the env that points at it is refused at `agent add` and at `spawn --env`, so the
 * marker never appears.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { hasCommand } from '../../helpers/system';
import { copyFixtureAgent, tmpDir, waitFor } from '../../helpers/tmp';


// The constructor runs at dlopen, before OpenSSL even asks for OSSL_provider_init.
const PROVIDER_C = `
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
  char p[4096];
  snprintf(p, sizeof p, "%s/loaded-by-%d", MARKER_DIR, (int)getpid());
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) { (void)write(fd, "loaded\\n", 7); close(fd); }
}
int OSSL_provider_init(void) { return 0; }
`;

// Node reads its own section (nodejs_conf) by default and openssl_conf with --openssl-shared-config.
const OSSL_CNF = `nodejs_conf = init
openssl_conf = init
[init]
providers = prov
[prov]
evil = evil_sect
[evil_sect]
module = evil.so
activate = 1
`;

let d: RunningDaemon;
let agentDir: string;
let markerDir: string;

const markers = (): string[] => fs.readdirSync(markerDir);

function writeManifest(env: Record<string, string> | undefined): void {
  const file = path.join(agentDir, 'agent.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  m.identity = { id: 'ossl-escaper', name: 'OpenSSL escaper' };
  m.singleton = false;
  if (env) m.env = env;
  else delete m.env;
  fs.writeFileSync(file, JSON.stringify(m));
}

describeShipped('agent env refusal, the OpenSSL start-up attack', () => {
  beforeAll(async () => {
    markerDir = tmpDir('osd-ossl-marker-');
    // an agent under its own uid must be able to leave its marker too, were it ever loaded
    fs.chmodSync(markerDir, 0o777);
    agentDir = copyFixtureAgent('singleton');
    fs.writeFileSync(path.join(agentDir, 'evil.c'), PROVIDER_C);
    const cc = spawnSync('cc', ['-shared', '-fPIC', `-DMARKER_DIR="${markerDir}"`, '-o', path.join(agentDir, 'evil.so'), path.join(agentDir, 'evil.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    fs.writeFileSync(path.join(agentDir, 'ossl.cnf'), OSSL_CNF);
    d = await startDaemon({ asShipped: true });
  });

  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
  });

  it('works when the daemon is bypassed: node loads the .so at start-up (the control)', () => {
    const r = spawnSync(process.execPath, ['-e', '0'], { cwd: agentDir, env: { PATH: '/usr/bin:/bin', OPENSSL_CONF: 'ossl.cnf', OPENSSL_MODULES: '.' }, encoding: 'utf8' });
    // node may then abort (our provider has no real init); the .so has run by then all the same
    const loaded = markers();
    expect(loaded, `node exited ${r.status ?? r.signal}: ${r.stderr}`).toHaveLength(1);
    expect(fs.readFileSync(path.join(markerDir, loaded[0] ?? ''), 'utf8')).toBe('loaded\n');
    for (const f of loaded) fs.rmSync(path.join(markerDir, f));
  });

  it('refuses the manifest at agent add, naming OpenSSL, and installs nothing', async () => {
    writeManifest({ OPENSSL_CONF: 'ossl.cnf', OPENSSL_MODULES: '.' });
    const add = await d.cli(['agent', 'add', agentDir]);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain('OSZ_E_ENV_REFUSED');
    expect(add.stderr).toContain('env "OPENSSL_CONF" refused: OpenSSL reads it to load a config file, which can load modules (.so) before the sandbox exists');
    expect(add.stderr).toContain('env "OPENSSL_MODULES" refused: OpenSSL reads it');
    expect(add.stderr).toContain('docs/agent-env.md');
    const installed = await d.json<Array<{ id: string }>>(['agent', 'ls']);
    expect(installed.map((a) => a.id)).not.toContain('ossl-escaper');
    expect(markers()).toEqual([]);
  });

  it('refuses the same env at spawn --env, for an agent that otherwise installs and runs', async () => {
    writeManifest(undefined);
    const add = await d.cli(['agent', 'add', agentDir]);
    expect(add.code, add.stderr).toBe(0);
    const installed = await d.json<Array<{ id: string; source: string }>>(['agent', 'ls']);
    expect(installed.map((a) => a.id)).toContain('ossl-escaper');

    const spawn = await d.cli(['spawn', 'ossl-escaper', '--env', `OPENSSL_CONF=${path.join(agentDir, 'ossl.cnf')}`, '--env', `OPENSSL_MODULES=${agentDir}`]);
    expect(spawn.code).toBe(1);
    expect(spawn.stderr).toContain('OSZ_E_ENV_REFUSED');
    expect(spawn.stderr).toMatch(/env "OPENSSL_(CONF|MODULES)" refused: OpenSSL reads it/);
    // one name alone is refused too: OPENSSL_CONF with an absolute module path needs no OPENSSL_MODULES
    const alone = await d.cli(['spawn', 'ossl-escaper', '--env', `OPENSSL_CONF=${path.join(agentDir, 'ossl.cnf')}`]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('env "OPENSSL_CONF" refused: OpenSSL reads it');
    const ps = await d.json<Array<{ agent: string }>>(['ps', '--all']);
    expect(ps.filter((s) => s.agent === 'ossl-escaper')).toEqual([]);

    // the same agent with an ordinary env runs, and still loads nothing of ours
    const ok = await d.cli(['spawn', 'ossl-escaper', '--env', 'GREETING=hi']);
    expect(ok.code, ok.stderr).toBe(0);
    const id = ok.stdout.trim().split(/\s+/).pop() ?? '';
    await waitFor(`${id} running`, async () => (await d.json<Array<{ instance: string; state: string }>>(['ps'])).find((s) => s.instance === id && s.state === 'running'));
    expect(markers()).toEqual([]);
    const kill = await d.cli(['kill', id]);
    expect(kill.code, kill.stderr).toBe(0);
  });

  it("starts setpriv and node with the daemon's names only; the agent's env reaches its code over fd 3", async () => {
    const dir = copyFixtureAgent('singleton');
    fs.writeFileSync(
      path.join(dir, 'agent.json'),
      JSON.stringify({ identity: { id: 'env-reader', name: 'Env reader' }, runtime: { entry: 'main.mjs' }, singleton: false, env: { GREETING: 'from-manifest' } }),
    );
    fs.writeFileSync(
      path.join(dir, 'main.mjs'),
      "export default { init(ctx) { ctx.log.info('ENV ' + JSON.stringify({ GREETING: process.env.GREETING, EXTRA: process.env.EXTRA, HOME: process.env.HOME === ctx.home, token: Boolean(process.env.OPENSTARRY_INSTANCE_TOKEN), flag: process.env.OPENSTARRY_ENV_FD ?? null })); } };\n",
    );
    const add = await d.cli(['agent', 'add', dir]);
    expect(add.code, add.stderr).toBe(0);
    const spawn = await d.cli(['spawn', 'env-reader', '--env', 'EXTRA=from-spawn']);
    expect(spawn.code, spawn.stderr).toBe(0);
    const id = spawn.stdout.trim().split(/\s+/).pop() ?? '';
    const line = await waitFor('the agent logs its env', async () => (await d.cli(['logs', id])).stdout.split('\n').find((l) => l.includes('ENV {')));
    expect(JSON.parse(line.slice(line.indexOf('ENV ') + 4))).toEqual({ GREETING: 'from-manifest', EXTRA: 'from-spawn', HOME: true, token: true, flag: null });

    // What the loader, glibc, OpenSSL and node read at exec: /proc/<pid>/environ is the env execve got.
    const ps = await d.json<Array<{ instance: string; osPid: number | null }>>(['ps']);
    const pid = ps.find((s) => s.instance === id)?.osPid;
    expect(pid).toBeGreaterThan(0);
    const names = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => kv.slice(0, kv.indexOf('=')));
    expect(names.sort()).toEqual(['HOME', 'LANG', 'OPENSTARRY_ENV_FD', 'PATH', ...(process.env.TZ ? ['TZ'] : [])].sort());
    const kill = await d.cli(['kill', id]);
    expect(kill.code, kill.stderr).toBe(0);
  });
}, [hasCommand('cc', 'gcc')]);
