import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDaemonFlags } from '../../../../runtime/config/flags';
import { ConfigError, loadConfig, resolveHome } from '../../../../runtime/config/loader';
import { controlSocketPath, hashedSocketPath, MAX_SOCKET_PATH_BYTES } from '../../../../runtime/config/paths';
import { redactConfig } from '../../../../runtime/config/redact';
import { OszError } from '../../../../runtime/errors';
import { tmpDir } from '../../../helpers/tmp';

function home(files: Record<string, string> = {}): string {
  const dir = tmpDir('osd-cfg-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const load = (dir: string, argv: string[] = [], env: NodeJS.ProcessEnv = {}) => loadConfig({ flags: parseDaemonFlags(['--home', dir, ...argv]), env, isRoot: false, homedir: '/home/u' });

function problems(fn: () => unknown): Array<{ key: string; source: string; message: string }> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config precedence', () => {
  it('uses defaults with no file', () => {
    const c = load(home()).config;
    expect(c.board).toBe('sim');
    expect(c.http.listen).toBe('127.0.0.1:8470');
    expect(c.supervisor.backoff).toEqual({ initialMs: 1000, maxMs: 300_000 });
  });

  it('layers defaults < file < device.yaml < env < flags', () => {
    const dir = home({
      'openstarryd.yaml': 'board: raspberrypi-4b\nhttp:\n  listen: 0.0.0.0:9000\nfleet:\n  deviceId: from-file\n  mqttVersion: 4\n',
      'device.yaml': 'fleet:\n  deviceId: from-fragment\n  broker: mqtts://broker.example:8883\n',
    });
    const l = load(dir, ['--device-id', 'from-flag'], { OPENSTARRYD_HTTP__LISTEN: '127.0.0.1:9100', OPENSTARRYD_FLEET__DEVICE_ID: 'from-env', OPENSTARRYD_WASM__CELL_SIZE: '8' });
    expect(l.config.board).toBe('raspberrypi-4b');
    expect(l.config.http.listen).toBe('127.0.0.1:9100');
    expect(l.config.fleet.deviceId).toBe('from-flag');
    expect(l.config.fleet.broker).toBe('mqtts://broker.example:8883');
    expect(l.config.fleet.mqttVersion).toBe(4);
    expect(l.config.wasm.cellSize).toBe(8);
    expect(l.origins['fleet.deviceId']).toContain('flag');
    expect(l.origins['http.listen']).toBe('env OPENSTARRYD_HTTP__LISTEN');
    expect(l.fragments).toHaveLength(1);
  });

  it('types env values by the schema and keeps strings as strings', () => {
    const l = load(home(), [], { OPENSTARRYD_DOCKER__ENABLED: 'true', OPENSTARRYD_FLEET__DEVICE_ID: '0123', OPENSTARRYD_HTTP__ALLOWED_HOSTS: '["pi.local"]' });
    expect(l.config.docker.enabled).toBe(true);
    expect(l.config.fleet.deviceId).toBe('0123');
    expect(l.config.http.allowedHosts).toEqual(['pi.local']);
  });

  it('reads --config from elsewhere and fails if it is missing', () => {
    const other = home({ 'my.yaml': 'board: raspberrypi-5\n' });
    expect(load(home(), ['--config', path.join(other, 'my.yaml')]).config.board).toBe('raspberrypi-5');
    expect(problems(() => load(home(), ['--config', path.join(other, 'missing.yaml')]))[0]?.message).toContain('cannot read');
  });

  it('resolves the home from flag, env, and the user', () => {
    expect(resolveHome({ home: '/x' }, { OPENSTARRYD_HOME: '/y' }, false, '/home/u')).toBe('/x');
    expect(resolveHome({}, { OPENSTARRYD_HOME: '/y' }, false, '/home/u')).toBe('/y');
    expect(resolveHome({}, {}, true, '/root')).toBe('/var/lib/openstarry');
    expect(resolveHome({}, {}, false, '/home/u')).toBe('/home/u/.openstarry');
  });
});

describe('config errors', () => {
  it('reports every problem at once, each with key, source and a fix', () => {
    const dir = home({ 'openstarryd.yaml': 'bord: sim\nhttp:\n  listen: nowhere\nsupervisor:\n  backof:\n    initialMs: 5\nlogs:\n  level: loud\n' });
    const p = problems(() => load(dir, [], { OPENSTARRYD_HTTP__LISTN: 'x', OPENSTARRYD_SUPERVISOR__GRACE_MS: 'soon' }));
    const keys = p.map((x) => x.key);
    expect(keys).toEqual(expect.arrayContaining(['bord', 'http.listen', 'supervisor.backof', 'logs.level', 'http.listn', 'supervisor.graceMs']));
    expect(p.find((x) => x.key === 'bord')?.message).toContain('did you mean "board"');
    expect(p.find((x) => x.key === 'supervisor.backof')?.message).toContain('supervisor.backoff');
    expect(p.find((x) => x.key === 'http.listn')?.source).toBe('env OPENSTARRYD_HTTP__LISTN');
    expect(p.find((x) => x.key === 'http.listen')?.source).toContain('openstarryd.yaml');
  });

  it('refuses malformed, oversized and hostile YAML with a line number', () => {
    expect(problems(() => load(home({ 'openstarryd.yaml': 'board: [unclosed\n' })))[0]?.source).toMatch(/openstarryd\.yaml:\d+/);
    expect(problems(() => load(home({ 'openstarryd.yaml': '- a\n- b\n' })))[0]?.message).toContain('mapping');
    expect(problems(() => load(home({ 'openstarryd.yaml': `board: sim\n${'#'.repeat(1024 * 1024)}\n` })))[0]?.message).toContain('limit');
    expect(problems(() => load(home({ 'openstarryd.yaml': '__proto__:\n  polluted: true\n' })))[0]?.message).toContain('__proto__');
    const laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
    expect(problems(() => load(home({ 'openstarryd.yaml': laughs })))[0]?.message).toMatch(/alias|YAML/i);
    expect(problems(() => load(home({ 'openstarryd.yaml': 'board: a\nboard: b\n' })))[0]?.message).toMatch(/unique|duplicate/i);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('validates flags whose features arrive later', () => {
    expect(problems(() => load(home(), ['--broker', 'http://not-mqtt'])).map((p) => p.key)).toContain('fleet.broker');
    expect(problems(() => load(home(), ['--device-id', 'a/b'])).map((p) => p.key)).toContain('fleet.deviceId');
    expect(problems(() => load(home(), ['--device-id', 'x'.repeat(65)])).map((p) => p.key)).toContain('fleet.deviceId');
    expect(problems(() => load(home(), ['--http', '127.0.0.1:99999'])).map((p) => p.key)).toContain('http.listen');
    expect(load(home(), ['--broker', 'mqtts://b.example:8883', '--replay', '/tmp/trace.jsonl']).config.replay).toBe('/tmp/trace.jsonl');
  });

  it('rejects unknown flags with a suggestion', () => {
    expect(() => parseDaemonFlags(['--hom', '/x'])).toThrow(/did you mean --home/);
    expect(() => parseDaemonFlags(['--board'])).toThrow(OszError);
  });

  it('accepts webhook sources and rejects bad ones', () => {
    const ok = load(home({ 'openstarryd.yaml': 'hooks:\n  listen: 0.0.0.0:8471\n  github:\n    secretFile: /etc/openstarry/gh.secret\n    kind: github\n' }));
    expect(ok.config.hooks.github).toEqual({ secretFile: '/etc/openstarry/gh.secret', kind: 'github' });
    const bad = problems(() => load(home({ 'openstarryd.yaml': 'hooks:\n  Bad Name:\n    kind: gitlab\n' })));
    expect(bad.map((p) => p.key)).toEqual(expect.arrayContaining(['hooks.Bad Name', 'hooks.Bad Name.secretFile', 'hooks.Bad Name.kind']));
  });
});

describe('secrets and paths', () => {
  it('keeps secrets as *File paths and masks secret-looking values when printed', () => {
    const c = load(home({ 'openstarryd.yaml': 'fleet:\n  passwordFile: /etc/openstarry/mqtt.pw\n' })).config;
    expect(JSON.stringify(redactConfig(c))).toContain('/etc/openstarry/mqtt.pw');
    expect(JSON.stringify(redactConfig(c, true))).not.toContain('mqtt.pw');
    expect(problems(() => load(home({ 'openstarryd.yaml': 'fleet:\n  password: hunter2\n' })))[0]?.message).toContain('passwordFile');
  });

  it('limits socket paths to 107 bytes, falling back to a hashed name for the default', () => {
    const longHome = `/tmp/${'h'.repeat(100)}`;
    expect(controlSocketPath('/var/lib/openstarry', undefined)).toBe('/var/lib/openstarry/run/control.sock');
    const fallback = controlSocketPath(longHome, undefined);
    expect(fallback).toBe(hashedSocketPath(longHome));
    expect(Buffer.byteLength(fallback)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(() => controlSocketPath(longHome, `${longHome}/x.sock`)).toThrow(/107/);
  });
});
