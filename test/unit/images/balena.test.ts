/**
 * The balenaCloud fleet app: balena.yml against its documented fields, docker-compose.yml against
 * what balena supports (named volumes only, no bind mounts, no privileged), the devices and labels
 * the HAL and the docker driver need, a healthcheck on /healthz, and every OPENSTARRYD_* variable
 * it sets accepted by the daemon's own config loader.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../runtime/config/loader';
import { REPO, tmpDir } from '../../helpers/tmp';

const read = (f: string): unknown => YAML.parse(fs.readFileSync(path.join(REPO, f), 'utf8'));

// https://docs.balena.io/learn/deploy/deploy-with-balena-button/#balenayml (the fields balena reads)
const balenaYml = z.strictObject({
  name: z.string().min(1),
  type: z.literal('sw.application'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  description: z.string().min(1),
  'post-provisioning': z.string().optional(),
  assets: z.record(z.string(), z.strictObject({ type: z.literal('blob.asset'), data: z.strictObject({ url: z.url() }) })).optional(),
  data: z.strictObject({
    applicationEnvironmentVariables: z.array(z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.string())).optional(),
    applicationConfigVariables: z.array(z.record(z.string(), z.string())).optional(),
    defaultDeviceType: z.string(),
    supportedDeviceTypes: z.array(z.string()).min(1),
  }),
});

// the subset of the compose file format balena supports that we use; anything else is a mistake
const service = z.strictObject({
  build: z.strictObject({ context: z.string(), dockerfile: z.string() }),
  restart: z.enum(['always', 'unless-stopped', 'on-failure', 'no']),
  network_mode: z.string().optional(),
  volumes: z.array(z.string()),
  environment: z.record(z.string(), z.string()),
  devices: z.array(z.string()),
  cap_add: z.array(z.string()).optional(),
  labels: z.record(z.string(), z.string()),
  healthcheck: z.strictObject({ test: z.array(z.string()), interval: z.string(), timeout: z.string(), retries: z.number() }),
});
const compose = z.strictObject({ version: z.string(), volumes: z.record(z.string(), z.strictObject({})), services: z.record(z.string(), service) });

describe('the balena fleet app', () => {
  it('balena.yml has the documented fields, and device types that run arm64 Raspberry Pi OS', () => {
    const b = balenaYml.parse(read('balena.yml'));
    expect(b.data.supportedDeviceTypes).toContain(b.data.defaultDeviceType);
    // 64-bit only (DESIGN §12.14)
    for (const t of b.data.supportedDeviceTypes) expect(t).toMatch(/-64$|raspberrypi5|raspberrypicm4/);
  });

  it('docker-compose.yml uses named volumes only, the HAL devices and the balena socket, and a /healthz healthcheck', () => {
    const c = compose.parse(read('docker-compose.yml'));
    const d = c.services.openstarryd;
    expect(d).toBeDefined();
    if (!d) return;
    for (const v of d.volumes) {
      const [source = '', target = ''] = v.split(':');
      // a bind mount starts with / or . ; balena refuses them
      expect([v, /^[a-z][a-z0-9_-]*$/.test(source), source in c.volumes, target.startsWith('/')]).toEqual([v, true, true, true]);
    }
    expect(d.devices.map((x) => x.split(':')[0])).toEqual(expect.arrayContaining(['/dev/gpiomem', '/dev/i2c-1', '/dev/ttyAMA0']));
    expect(d.labels['io.balena.features.balena-socket']).toBe('1');
    expect(d.labels['io.balena.features.sysfs']).toBe('1');
    expect(d.healthcheck.test.join(' ')).toContain('/healthz');
    expect(JSON.stringify(d)).not.toMatch(/privileged/);
    expect(fs.existsSync(path.join(REPO, d.build.context, d.build.dockerfile))).toBe(true);
    expect(fs.readFileSync(path.join(REPO, d.build.dockerfile), 'utf8')).toContain('%%BALENA_MACHINE_NAME%%');
  });

  it('every OPENSTARRYD_* variable it sets is a config key the daemon accepts', () => {
    const c = compose.parse(read('docker-compose.yml'));
    const b = balenaYml.parse(read('balena.yml'));
    const fleetVars: Record<string, string> = Object.fromEntries((b.data.applicationEnvironmentVariables ?? []).flatMap((v) => Object.entries(v)));
    const env: NodeJS.ProcessEnv = { ...c.services.openstarryd?.environment, ...fleetVars };
    env.OPENSTARRYD_HOME = tmpDir('osd-balena-');
    const loaded = loadConfig({ flags: { help: false, version: false, printConfig: false, overrides: {} }, env, isRoot: true });
    expect(loaded.config.http.listen).toBe('0.0.0.0:8470');
    expect(loaded.config.docker.socket).toBe('/var/run/balena-engine.sock');
    expect(loaded.home).toBe(env.OPENSTARRYD_HOME);
  });
});
