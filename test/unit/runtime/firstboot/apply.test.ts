/**
 * First boot: device.yaml good (config, credentials, key files, modes; the card's copy gone, Raspberry
 * Pi OS's own first-boot files untouched; the daemon's loader accepts the result), bad and hostile
 * (wrong types, file paths and path traversal, a huge file, an alias bomb, not a mapping, a symlink):
 * nothing written to the device, the file renamed with the reason beside it, firstboot.json for the
 * daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../runtime/config/loader';
import { FIRSTBOOT_STATUS, runFirstboot } from '../../../../runtime/firstboot/apply';
import { lookupUser } from '../../../../runtime/firstboot/command';
import { CREDENTIALS_RUNTIME_DIR } from '../../../../runtime/firstboot/device-file';
import { newKeyPair } from '../../../../runtime/fleet/keys';
import { tmpDir } from '../../../helpers/tmp';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FGQUtFQ0VSVA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

function card(deviceYaml: string | undefined): { boot: string; etc: string; home: string; piOs: Record<string, string> } {
  const root = tmpDir('osd-fb-');
  const boot = path.join(root, 'boot');
  fs.mkdirSync(path.join(boot, 'openstarry'), { recursive: true });
  // Raspberry Pi OS Imager's own customisation files
  const piOs = { 'userconf.txt': 'pi:$6$hash\n', 'firstrun.sh': '#!/bin/bash\nraspi-config nonint do_wifi_country DE\n', 'custom.toml': '[wlan]\nssid = "greenhouse"\n', ssh: '' };
  for (const [f, c] of Object.entries(piOs)) fs.writeFileSync(path.join(boot, f), c);
  if (deviceYaml !== undefined) fs.writeFileSync(path.join(boot, 'openstarry/device.yaml'), deviceYaml);
  return { boot, etc: path.join(root, 'etc/openstarry'), home: path.join(root, 'var/lib/openstarry'), piOs };
}

const mode = (f: string): number => fs.statSync(f).mode & 0o777;

describe('first boot', () => {
  it('applies a good device.yaml: secrets as credentials, keys as files, a fragment the daemon loads; the card copy is removed', () => {
    const ops = newKeyPair();
    const c = card(
      [
        'board: raspberrypi-4b',
        'fleet:',
        '  deviceId: gh-17',
        '  broker: mqtts://broker.example:8883',
        '  username: gh-17',
        '  password: "s3cret pass"',
        '  tls:',
        `    ca: ${JSON.stringify(CA)}`,
        `    key: ${JSON.stringify(KEY)}`,
        '  issuers:',
        `    - { id: ops, role: operator, publicKey: ${JSON.stringify(ops.publicPem)} }`,
        'hooks:',
        '  github: { kind: github, secret: "hook-secret" }',
        'http: { listen: "0.0.0.0:8470" }',
        '',
      ].join('\n'),
    );
    const r = runFirstboot(c);
    expect(r.outcome).toBe('applied');
    expect(fs.existsSync(path.join(c.boot, 'openstarry/device.yaml'))).toBe(false);
    for (const [f, content] of Object.entries(c.piOs)) expect([f, fs.readFileSync(path.join(c.boot, f), 'utf8')]).toEqual([f, content]);
    expect(mode(path.join(c.etc, 'device.yaml'))).toBe(0o600);
    expect(mode(path.join(c.etc, 'credentials'))).toBe(0o700);
    expect(fs.readFileSync(path.join(c.etc, 'credentials/mqtt-password'), 'utf8')).toBe('s3cret pass');
    expect(mode(path.join(c.etc, 'credentials/mqtt-password'))).toBe(0o600);
    expect(fs.readFileSync(path.join(c.etc, 'credentials/hook-github'), 'utf8')).toBe('hook-secret');
    expect(fs.readFileSync(path.join(c.etc, 'issuers/ops.pub'), 'utf8')).toBe(ops.publicPem.trim() + '\n');
    const kept = fs.readFileSync(path.join(c.etc, 'device.yaml'), 'utf8');
    // no secret stays in the fragment
    expect(kept).not.toMatch(/s3cret|hook-secret|PRIVATE KEY/);
    // the daemon's own loader takes it as the fragment beside its config
    fs.writeFileSync(path.join(c.etc, 'openstarryd.yaml'), '{}\n');
    const loaded = loadConfig({ flags: { config: path.join(c.etc, 'openstarryd.yaml'), help: false, version: false, printConfig: false, overrides: {} }, env: { OPENSTARRYD_HOME: c.home }, isRoot: true });
    expect(loaded.fragments).toEqual([path.join(c.etc, 'device.yaml')]);
    expect(loaded.config.fleet).toMatchObject({ deviceId: 'gh-17', passwordFile: `${CREDENTIALS_RUNTIME_DIR}/openstarry_mqtt-password`, tls: { caFile: path.join(c.etc, 'fleet-ca.pem'), keyFile: `${CREDENTIALS_RUNTIME_DIR}/openstarry_mqtt-tls-key` }, issuers: [{ id: 'ops', role: 'operator', publicKeyFile: path.join(c.etc, 'issuers/ops.pub') }] });
    expect(loaded.config.board).toBe('raspberrypi-4b');
    expect(runFirstboot(c)).toEqual({ outcome: 'none' });
  });

  const hostile: Record<string, string> = {
    'wrong types': 'fleet:\n  broker: 12\n  deviceId: [a]\n',
    'an unknown key': 'fleet:\n  brokr: mqtt://x\n',
    'a file path': 'fleet:\n  passwordFile: /etc/shadow\n',
    'a nested file path': 'hooks:\n  github: { kind: github, secretFile: ../../etc/shadow }\n',
    'path traversal in an issuer id': `fleet:\n  issuers:\n    - { id: "../../etc/cron.d/x", role: admin, publicKey: AAAA }\n`,
    'path traversal in a hook source': 'hooks:\n  "../x": { kind: github, secret: s }\n',
    'a device id that is no topic segment': 'fleet:\n  deviceId: "a/b#"\n',
    'not PEM': 'fleet:\n  tls:\n    ca: "cat /etc/shadow"\n',
    'not a mapping': '- just\n- a list\n',
    'not YAML': 'fleet: [unclosed\n',
    'an alias bomb': `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`,
    'a prototype key': '__proto__:\n  polluted: true\n',
    'a huge file': `# ${'x'.repeat(70 * 1024)}\nboard: sim\n`,
  };
  for (const [what, text] of Object.entries(hostile)) {
    it(`rejects ${what}, writes nothing to the device, and says why`, () => {
      const c = card(text);
      const r = runFirstboot(c);
      expect(r.outcome).toBe('rejected');
      expect(fs.existsSync(c.etc)).toBe(false);
      expect(fs.existsSync(path.join(c.boot, 'openstarry/device.yaml'))).toBe(false);
      expect(fs.readFileSync(path.join(c.boot, 'openstarry/device.yaml.rejected'), 'utf8')).toBe(text);
      const why = fs.readFileSync(path.join(c.boot, 'openstarry/device.yaml.error.txt'), 'utf8');
      expect(why.length).toBeGreaterThan(40);
      expect(JSON.parse(fs.readFileSync(path.join(c.home, FIRSTBOOT_STATUS), 'utf8'))).toMatchObject({ error: expect.any(String) as unknown });
      expect(({}) as Record<string, unknown>).not.toHaveProperty('polluted');
      for (const [f, content] of Object.entries(c.piOs)) expect(fs.readFileSync(path.join(c.boot, f), 'utf8')).toBe(content);
    });
  }

  it('rejects a symlink planted as device.yaml, and does nothing without a file', () => {
    const c = card(undefined);
    expect(runFirstboot(c)).toEqual({ outcome: 'none' });
    fs.symlinkSync('/etc/passwd', path.join(c.boot, 'openstarry/device.yaml'));
    expect(runFirstboot(c)).toMatchObject({ outcome: 'rejected', error: expect.stringContaining('not a regular file') as unknown });
    expect(fs.existsSync(c.etc)).toBe(false);
  });

  it('a corrected file applies after a rejected one, and clears the reported error', () => {
    const c = card('fleet: { broker: 12 }\n');
    expect(runFirstboot(c).outcome).toBe('rejected');
    fs.writeFileSync(path.join(c.boot, 'openstarry/device.yaml'), 'fleet: { broker: "mqtt://broker.lan:1883", deviceId: gh-2 }\n');
    expect(runFirstboot(c).outcome).toBe('applied');
    expect(fs.existsSync(path.join(c.home, FIRSTBOOT_STATUS))).toBe(false);
    expect(fs.readdirSync(path.join(c.boot, 'openstarry'))).toEqual([]);
  });

  it('finds the daemon user in /etc/passwd', () => {
    const f = path.join(tmpDir('osd-pw-'), 'passwd');
    fs.writeFileSync(f, 'root:x:0:0:root:/root:/bin/bash\nopenstarry:x:998:997::/var/lib/openstarry:/usr/sbin/nologin\n');
    expect(lookupUser('openstarry', f)).toEqual({ uid: 998, gid: 997 });
    expect(lookupUser('nobody-here', f)).toBeUndefined();
  });
});
