/**
 * The operator's side of the fleet protocol, without a daemon (DESIGN §8): `keys new` writes an
 * issuer key pair; `remote <device> <op> [JSON]` signs a command with it, sends it through the
 * broker and prints the reply; `remote watch [device]` prints devices' status and state as they
 * change. Enough to run a small fleet without any cloud service.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import type { CommandReply } from '../fleet/command';
import { newKeyPair } from '../fleet/keys';
import { makeCommand } from '../fleet/sign';
import { topics } from '../fleet/topics';
import type { CliIO, VerbArgs } from './verb';

export interface OfflineVerb {
  usage: string;
  summary: string;
  flags?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  run(a: VerbArgs, io: CliIO): Promise<number>;
}

const str = (a: VerbArgs, k: string): string | undefined => (typeof a.flags[k] === 'string' ? a.flags[k] : undefined);
const requiredFlag = (a: VerbArgs, k: string, usage: string): string => str(a, k) ?? (() => {
  throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${usage} (--${k} is required)`);
})();

/** the broker connection of `remote`: MQTT 5 (or 3.1.1), optional username / password file and TLS CA, client cert and key */
async function mqttConnect(url: string, a: VerbArgs): Promise<import('mqtt').MqttClient> {
  const m = (await import('mqtt')) as typeof import('mqtt') & { default?: typeof import('mqtt') };
  const connectAsync = m.connectAsync ?? m.default?.connectAsync;
  const broker = url.startsWith('unix://') ? `mqtt+unix://${url.slice(7)}` : url;
  const file = (flag: string): Buffer | undefined => {
    const p = str(a, flag);
    return p ? fs.readFileSync(p) : undefined;
  };
  const username = str(a, 'username');
  const password = file('password-file')?.toString('utf8').trim();
  const [ca, cert, key] = [file('ca'), file('cert'), file('client-key')];
  try {
    return await connectAsync(broker, {
      protocolVersion: str(a, 'mqtt-version') === '4' ? 4 : 5,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      clientId: `openstarryctl-${crypto.randomBytes(4).toString('hex')}`,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    });
  } catch (err) {
    throw new OszError('OSZ_E_DAEMON_UNREACHABLE', `cannot reach the broker ${url}: ${(err as Error).message}`);
  }
}

export const OFFLINE_VERBS: Record<string, OfflineVerb> = {
  keys: {
    usage: 'keys new --out DIR [--name ID]',
    summary: 'write an issuer key pair (DIR/ID.key, DIR/ID.pub) for signed remote commands',
    flags: { out: { type: 'string' }, name: { type: 'string' } },
    run(a, io) {
      if (a.positionals[0] !== 'new') throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
      const dir = requiredFlag(a, 'out', this.usage);
      const name = str(a, 'name') ?? 'operator';
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new OszError('OSZ_E_INVALID_PARAMS', 'an issuer id is 1-64 letters, digits, _ . or -');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const pair = newKeyPair();
      const keyFile = path.join(dir, `${name}.key`);
      if (fs.existsSync(keyFile)) throw new OszError('OSZ_E_INVALID_PARAMS', `${keyFile} exists; choose another --name or --out`);
      fs.writeFileSync(keyFile, pair.privatePem, { mode: 0o600, flag: 'wx' });
      fs.writeFileSync(path.join(dir, `${name}.pub`), pair.publicPem, { mode: 0o644 });
      io.out(a.json ? JSON.stringify({ issuer: name, key: keyFile, publicKey: path.join(dir, `${name}.pub`) }) : `wrote ${keyFile} (keep it secret) and ${name}.pub; on each device:\n  fleet:\n    issuers:\n      - { id: ${name}, publicKeyFile: /etc/openstarry/${name}.pub, role: operator }`);
      return Promise.resolve(0);
    },
  },
  remote: {
    usage: 'remote <device> <op> [JSON params] --broker URL --key FILE --issuer ID | remote watch [device] --broker URL  [--username U --password-file F] [--ca F --cert F --client-key F] [--mqtt-version 4|5] [--timeout S]',
    summary: 'sign and send a command to a device over MQTT and print its reply; or watch devices',
    flags: {
      broker: { type: 'string' },
      key: { type: 'string' },
      issuer: { type: 'string' },
      timeout: { type: 'string' },
      'mqtt-version': { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      'client-key': { type: 'string' },
    },
    async run(a, io) {
      const broker = requiredFlag(a, 'broker', this.usage);
      const [device = '', op = '', json] = a.positionals;
      if (device === 'watch') return watch(await mqttConnect(broker, a), op || '+', a, io);
      if (!device || !op) throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${this.usage}`);
      let params: Record<string, unknown> = {};
      try {
        params = json ? (JSON.parse(json) as Record<string, unknown>) : {};
      } catch {
        throw new OszError('OSZ_E_INVALID_PARAMS', 'params must be a JSON object');
      }
      const key = crypto.createPrivateKey(fs.readFileSync(requiredFlag(a, 'key', this.usage), 'utf8'));
      const cmd = makeCommand(requiredFlag(a, 'issuer', this.usage), key, device, op, params);
      const t = topics(device);
      const client = await mqttConnect(broker, a);
      try {
        const reply = new Promise<CommandReply>((resolve) => client.on('message', (topic, payload) => topic === t.cmdRes(cmd.id) && resolve(JSON.parse(payload.toString()) as CommandReply)));
        await client.subscribeAsync(t.cmdRes(cmd.id), { qos: 1 });
        await client.publishAsync(t.cmdReq(op), JSON.stringify(cmd), { qos: 1 });
        const seconds = Number(str(a, 'timeout') ?? 15);
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([reply, new Promise<undefined>((r2) => (timer = setTimeout(() => r2(undefined), seconds * 1000)))]);
        clearTimeout(timer);
        if (!r) throw new OszError('OSZ_E_AGENT_TIMEOUT', `no reply from ${device} within ${seconds} s (is it online? openstarryctl remote watch ${device})`);
        if (a.json) io.out(JSON.stringify(r, null, 2));
        else if (r.ok) io.out(JSON.stringify(r.result, null, 2));
        else io.err(`${device}: ${r.error?.code ?? '?'}: ${r.error?.message ?? ''}${r.error?.hint ? `\n  hint: ${r.error.hint}` : ''}`);
        return r.ok ? 0 : 1;
      } finally {
        await client.endAsync();
      }
    },
  },
};

async function watch(client: import('mqtt').MqttClient, device: string, a: VerbArgs, io: CliIO): Promise<number> {
  client.on('message', (topic, payload) => {
    const text = payload.toString();
    if (a.json) return io.out(JSON.stringify({ topic, payload: safe(text) }));
    const [, , dev, kind, section] = topic.split('/');
    io.out(`${new Date().toISOString()} ${dev ?? '?'} ${kind === 'state' ? `state/${section ?? ''}` : (kind ?? '')} ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
  });
  await client.subscribeAsync([`openstarry/v1/${device}/status`, `openstarry/v1/${device}/state/+`], { qos: 1 });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    client.once('close', () => resolve());
  });
  await client.endAsync();
  return 0;
}

function safe(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
