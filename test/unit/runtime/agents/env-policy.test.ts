/**
 * The agent env refusal list (issue 16): every variable that the loader, glibc, OpenSSL, ICU,
 * libuv, c-ares or Node read to load code, modules, locale or config files is refused with a
 * reason naming its reader, in the manifest and in spawn env alike; ordinary names pass.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMON, ENV_RULES, envNameRefusal, envRuleFor } from '../../../../runtime/agents/env-policy';
import { validateSpawnEnv } from '../../../../runtime/agents/launch-spec';
import { parseManifest } from '../../../../runtime/agents/manifest';
import { ERROR_CODES } from '../../../../runtime/errors';
import { refusalOf as thrown } from '../../../helpers/refusal';
import { REPO } from '../../../helpers/tmp';

const base = { identity: { id: 'env-probe', name: 'Env probe' }, runtime: { entry: 'main.mjs' } };


/** a name each rule must catch: the name itself, or the prefix with a made-up tail */
const sample = (r: (typeof ENV_RULES)[number]): string => (r.prefix ? `${r.match}ANYTHING_ELSE` : r.match);

describe('env policy', () => {
  it('refuses every name in the table, with a reason that names the library reading it', () => {
    for (const rule of ENV_RULES) {
      const key = sample(rule);
      const why = envNameRefusal(key);
      expect(why, key).toBeDefined();
      if (rule.library === DAEMON) expect(why, key).toMatch(/^the daemon sets /);
      else expect(why, key).toContain(`${rule.library} reads `);
      expect(why, key).toContain(rule.reads);
    }
  });

  it('gives the OpenSSL attack its own reason and names OpenSSL', () => {
    expect(envNameRefusal('OPENSSL_CONF')).toBe('OpenSSL reads it to load a config file, which can load modules (.so) before the sandbox exists');
    expect(envNameRefusal('OPENSSL_MODULES')).toBe('OpenSSL reads it to load providers (.so) from the folder it names');
    // a name only the prefix knows still names OpenSSL
    expect(envNameRefusal('OPENSSL_TRACE')).toMatch(/^OpenSSL reads OPENSSL_\* variables to /);
    // exact names win over their prefix
    expect(envRuleFor('NODE_OPTIONS')?.prefix).toBe(false);
    expect(envRuleFor('LD_PRELOAD')?.prefix).toBe(false);
    expect(envRuleFor('MALLOC_TRACE')?.reads).toContain('write a trace');
  });

  it("refuses glibc's whole list of unsecure variables (sysdeps/generic/unsecvars.h), naming glibc", () => {
    // glibc 2.36 (Debian 12), copied from the header
    const unsecvars = ['GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LD_AUDIT', 'LD_DEBUG', 'LD_DEBUG_OUTPUT', 'LD_DYNAMIC_WEAK', 'LD_HWCAP_MASK', 'LD_LIBRARY_PATH', 'LD_ORIGIN_PATH', 'LD_PRELOAD', 'LD_PROFILE', 'LD_SHOW_AUXV', 'LD_USE_LOAD_BIAS', 'LOCALDOMAIN', 'LOCPATH', 'MALLOC_TRACE', 'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TMPDIR', 'TZDIR'];
    for (const key of unsecvars) expect(envNameRefusal(key), key).toMatch(/glibc/);
  });

  it('refuses what the issue lists, each naming the right reader', () => {
    const expected: Record<string, RegExp> = {
      MALLOC_CHECK_: /glibc \(malloc/,
      MALLOC_ARENA_MAX: /glibc \(malloc/,
      MALLOC_PERTURB_: /glibc \(malloc/,
      LANG: /glibc \(locale\).*daemon sets LANG=C\.UTF-8/,
      LANGUAGE: /glibc \(gettext\)/,
      LC_ALL: /glibc \(locale\)/,
      LC_CTYPE: /glibc \(locale\)/,
      TZ: /glibc and ICU.*name by path/,
      OPENSSL_CONF_INCLUDE: /^OpenSSL /,
      OPENSSL_ENGINES: /^OpenSSL .*engines \(\.so\)/,
      OPENSSL_ARMCAP: /^OpenSSL /,
      SSL_CERT_FILE: /^OpenSSL /,
      SSL_CERT_DIR: /^OpenSSL /,
      ICU_DATA: /^ICU /,
      ICU_TIMEZONE_FILES_DIR: /^ICU /,
      UV_THREADPOOL_SIZE: /^libuv /,
      UV_USE_IO_URING: /^libuv .*io_uring/,
      NODE_OPTIONS: /^Node .*--require/,
      NODE_PATH: /^Node /,
      NODE_EXTRA_CA_CERTS: /^Node /,
      NODE_ICU_DATA: /^Node /,
      NODE_REPL_HISTORY: /^Node /,
      NODE_REPL_EXTERNAL_MODULE: /^Node .*module/,
      NODE_CHANNEL_FD: /^Node .*IPC/,
      CARES_HOSTS: /^c-ares .*hosts file/,
      HOME: /^the daemon sets it .*data folder/,
      PATH: /^the daemon sets it .*\/usr\/bin/,
      SHELL: /choose the program/,
      OPENSTARRY_INSTANCE_TOKEN: /^the daemon sets OPENSTARRY_\* variables/,
      PYTHONPATH: /^Python /,
      PYTHONSTARTUP: /^Python /,
      PERL5LIB: /^Perl /,
      PERL5OPT: /^Perl /,
      RUBYLIB: /^Ruby /,
      RUBYOPT: /^Ruby /,
      JAVA_TOOL_OPTIONS: /Java/,
      LUA_INIT: /^Lua /,
      BASH_ENV: /^bash /,
      ENV: /^sh \(POSIX\)/,
    };
    for (const [key, reason] of Object.entries(expected)) expect(envNameRefusal(key), key).toMatch(reason);
  });

  it("refuses every variable this machine's Node documents in `node --help`, except the colour switches", () => {
    const help = execFileSync(process.execPath, ['--help'], { encoding: 'utf8' });
    const section = help.slice(help.indexOf('Environment variables:'));
    const names = [...section.matchAll(/^([A-Z][A-Z0-9_]+)\b/gm)].map((m) => m[1] ?? '');
    expect(names).toContain('NODE_PATH');
    expect(names).toContain('UV_THREADPOOL_SIZE');
    // FORCE_COLOR and NO_COLOR only colour output; every other one Node reads is refused
    const harmless = new Set(['FORCE_COLOR', 'NO_COLOR']);
    for (const key of names.filter((n) => !harmless.has(n))) expect(envNameRefusal(key), key).toBeDefined();
    for (const key of harmless) expect(envNameRefusal(key), key).toBeUndefined();
  });

  it('lets ordinary names through, matching exact names exactly', () => {
    for (const key of ['LOG_LEVEL', 'API_KEY', 'GREETING', 'MQTT_TOPIC', 'ZONE', 'TZ_NAME', 'PATH_PREFIX', 'HOMEASSISTANT_URL', 'LANGUAGE_MODEL', 'NODEJS_FLAVOUR', 'ENVIRONMENT', 'TEMPERATURE_UNIT', 'LDAP_URL', 'ICUSTOM', 'UVINDEX']) {
      expect(envNameRefusal(key), key).toBeUndefined();
    }
  });

  it('refuses malformed and oversized names', () => {
    for (const key of ['', 'lower', '1ABC', 'A-B', 'A B', 'OPENSSL_ia32cap', 'BASH_FUNC_x%%', 'É', 'A\u0000B']) {
      expect(envNameRefusal(key), JSON.stringify(key)).toMatch(/must match/);
    }
    expect(envNameRefusal('A'.repeat(128))).toBeUndefined();
    expect(envNameRefusal('A'.repeat(129))).toMatch(/at most 128/);
    expect(envNameRefusal('A'.repeat(1_000_000))).toMatch(/at most 128/);
  });

  it('spawn env and manifests refuse with the same code and reason', () => {
    const spawn = thrown(() => validateSpawnEnv({ GREETING: 'hi', OPENSSL_CONF: '/tmp/ossl.cnf' }));
    expect(spawn.code).toBe('OSZ_E_ENV_REFUSED');
    expect(spawn.message).toBe(`env "OPENSSL_CONF" refused: ${envNameRefusal('OPENSSL_CONF') ?? ''}`);
    expect(spawn.details).toEqual({ key: 'OPENSSL_CONF' });
    expect(spawn.hint).toContain('docs/agent-env.md');

    const manifest = thrown(() => parseManifest(JSON.stringify({ ...base, env: { OPENSSL_CONF: 'ossl.cnf', OPENSSL_MODULES: '.' } }), 'agent.json'));
    expect(manifest.code).toBe('OSZ_E_ENV_REFUSED');
    expect(manifest.message).toContain(`env "OPENSSL_CONF" refused: ${envNameRefusal('OPENSSL_CONF') ?? ''}`);
    expect(manifest.message).toContain(`env "OPENSSL_MODULES" refused: ${envNameRefusal('OPENSSL_MODULES') ?? ''}`);
    expect(manifest.hint).toContain('docs/agent-env.md');

    // a granted secret is injected as env, so its name goes through the same list
    expect(thrown(() => parseManifest(JSON.stringify({ ...base, secrets: ['LD_PRELOAD'] }), 'agent.json')).message).toContain('secret "LD_PRELOAD" cannot be injected: glibc (the dynamic loader ld.so) reads it');

    expect(validateSpawnEnv({ GREETING: 'hi' })).toEqual({ GREETING: 'hi' });
    expect(thrown(() => validateSpawnEnv({ GREETING: 7 })).code).toBe('OSZ_E_INVALID_PARAMS');
    expect(thrown(() => validateSpawnEnv(['OPENSSL_CONF=x'])).code).toBe('OSZ_E_INVALID_PARAMS');
  });

  it('points the error hint at docs/agent-env.md', () => {
    expect(ERROR_CODES.OSZ_E_ENV_REFUSED).toContain('docs/agent-env.md');
  });

  it('docs/agent-env.md lists exactly the table, each row with its reader', () => {
    const text = fs.readFileSync(path.join(REPO, 'docs/agent-env.md'), 'utf8');
    const doc = text.slice(text.indexOf('\n## The list'), text.indexOf('\n## Deliberately allowed'));
    const rows = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]*)(\*?)` \| ([^|]+) \|/gm)].map((m) => ({ match: m[1] ?? '', prefix: m[2] === '*', library: (m[3] ?? '').trim() }));
    expect(rows).toEqual(ENV_RULES.map((r) => ({ match: r.match, prefix: r.prefix, library: r.library })));
  });
});
