/**
 * `openstarry/device.yaml` on the boot partition (DESIGN §10, issue 11): a fragment of the daemon
 * config written by whoever flashes the card, the one place credentials may be inline. This file
 * turns it into what the device keeps: the fragment with every inline value replaced by a `*File`
 * path, the secrets (MQTT password, TLS key, webhook secrets) as systemd credentials, and the
 * public material (issuer keys, CA, client certificate) as files. Nothing is trusted: the fragment
 * may not name files of its own (a card must not point the daemon at /etc/shadow), ids that become
 * file names are checked, and the result must pass the daemon's own config schema.
 */
import * as z from 'zod';
import { configSchema } from '../config/schema';
import { OszError } from '../errors';
import { isPlainObject, ParseFailure, parseYamlSafe } from '../util/safe-json';

export const MAX_DEVICE_FILE_BYTES = 64 * 1024;
/** where LoadCredential=openstarry:/etc/openstarry/credentials puts each file for the service */
export const CREDENTIALS_RUNTIME_DIR = '/run/credentials/openstarryd.service';
export const CREDENTIAL_PREFIX = 'openstarry_';

const pem = (what: string) => z.string().max(16 * 1024).regex(/^-----BEGIN [A-Z0-9 ]+-----\r?\n[\s\S]+-----END [A-Z0-9 ]+-----\s*$/, `${what} as PEM text`);
const id = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an id of 1-64 letters, digits, _ . and -').refine((v) => v !== '.' && v !== '..', 'not . or ..');

/** the inline parts device.yaml may carry; everything else is passed to the config schema as is */
const inlineSchema = z.looseObject({
  fleet: z
    .looseObject({
      password: z.string().min(1).max(1024).optional(),
      tls: z.strictObject({ ca: pem('the CA certificate').optional(), cert: pem('the client certificate').optional(), key: pem('the client key').optional() }).optional(),
      issuers: z.array(z.strictObject({ id, role: z.enum(['viewer', 'operator', 'admin']), publicKey: z.string().min(1).max(4096) })).max(32).optional(),
    })
    .optional(),
  hooks: z.record(z.string(), z.unknown()).optional(),
});

export interface DevicePlan {
  /** the config fragment to keep as /etc/openstarry/device.yaml */
  fragment: Record<string, unknown>;
  /** secrets: credentials/<name> (0600 root), read by the service through LoadCredential */
  secrets: Array<{ name: string; content: string }>;
  /** public files under /etc/openstarry (0644) */
  files: Array<{ path: string; content: string }>;
}

/** the keys device.yaml must not set: file paths (only inline values come from a card) */
function fileKeys(v: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(v)) v.forEach((x, i) => fileKeys(x, `${at}[${i}]`, out));
  else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const here = at ? `${at}.${k}` : k;
      if (/File$/.test(k)) out.push(here);
      else fileKeys(x, here, out);
    }
  }
  return out;
}

/** parses and checks device.yaml; throws OSZ_E_CONFIG naming every problem */
export function planDeviceFile(text: string, etc: string): DevicePlan {
  let raw: unknown;
  try {
    raw = parseYamlSafe(text, MAX_DEVICE_FILE_BYTES);
  } catch (err) {
    const e = err as ParseFailure;
    throw new OszError('OSZ_E_CONFIG', `device.yaml: ${e.message}${e.line ? ` (line ${e.line})` : ''}`);
  }
  if (!isPlainObject(raw)) throw new OszError('OSZ_E_CONFIG', 'device.yaml must be a mapping of config keys (docs/first-boot.md)');
  const named = fileKeys(raw, '', []);
  if (named.length) throw new OszError('OSZ_E_CONFIG', `device.yaml may not name files (${named.join(', ')}): put the value itself inline, the device writes the file`, { keys: named });
  const inline = inlineSchema.safeParse(raw);
  if (!inline.success) throw new OszError('OSZ_E_CONFIG', `device.yaml: ${inline.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);

  const fragment = structuredClone(raw) as Record<string, unknown> & { fleet?: Record<string, unknown>; hooks?: Record<string, unknown> };
  const secrets: DevicePlan['secrets'] = [];
  const files: DevicePlan['files'] = [];
  const credential = (name: string, content: string): string => {
    secrets.push({ name, content });
    return `${CREDENTIALS_RUNTIME_DIR}/${CREDENTIAL_PREFIX}${name}`;
  };
  const fleet = fragment.fleet;
  const given = inline.data.fleet;
  if (fleet && given) {
    if (given.password !== undefined) {
      delete fleet.password;
      fleet.passwordFile = credential('mqtt-password', given.password);
    }
    if (given.tls) {
      const tls: Record<string, string> = {};
      if (given.tls.ca) {
        files.push({ path: `${etc}/fleet-ca.pem`, content: given.tls.ca });
        tls.caFile = `${etc}/fleet-ca.pem`;
      }
      if (given.tls.cert) {
        files.push({ path: `${etc}/fleet-cert.pem`, content: given.tls.cert });
        tls.certFile = `${etc}/fleet-cert.pem`;
      }
      if (given.tls.key) tls.keyFile = credential('mqtt-tls-key', given.tls.key);
      fleet.tls = tls;
    }
    if (given.issuers) {
      fleet.issuers = given.issuers.map((i) => {
        files.push({ path: `${etc}/issuers/${i.id}.pub`, content: i.publicKey.trim() + '\n' });
        return { id: i.id, role: i.role, publicKeyFile: `${etc}/issuers/${i.id}.pub` };
      });
    }
  }
  for (const [source, hook] of Object.entries(fragment.hooks ?? {})) {
    if (source === 'listen' || !isPlainObject(hook)) continue;
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(source)) throw new OszError('OSZ_E_CONFIG', `device.yaml: hooks.${source.slice(0, 40)}: a source is 1-32 of a-z, 0-9 and -`);
    if (typeof hook.secret === 'string') {
      hook.secretFile = credential(`hook-${source}`, hook.secret);
      delete hook.secret;
    }
  }
  // the result must be a config the daemon accepts (defaults fill the rest)
  const checked = configSchema.safeParse(fragment);
  if (!checked.success) throw new OszError('OSZ_E_CONFIG', `device.yaml: ${checked.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  return { fragment, secrets, files };
}
