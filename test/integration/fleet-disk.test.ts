/**
 * A signed command that changes something must be on disk before it runs (docs/fleet-protocol.md).
 * When the disk refuses (full; a small tmpfs stands in for the SD card), the command is refused
 * with OSZ_E_STORE_IO and the daemon keeps serving, instead of dying in the message handler.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { type CommandReply, replySchema } from '../../runtime/fleet/command';
import { newKeyPair } from '../../runtime/fleet/keys';
import { makeCommand } from '../../runtime/fleet/sign';
import { fillDisk } from '../helpers/disk';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { listen, type Listener, startBroker, type TestBroker } from '../helpers/mqtt';
import { asRoot, describeWith, hasCommand } from '../helpers/system';
import { tmpDir, waitFor } from '../helpers/tmp';

const DEVICE = 'gh-disk-1';
const base = `openstarry/v1/${DEVICE}`;

describeWith('fleet commands on a full disk', [asRoot(), hasCommand('mount', 'mount')], () => {
  let broker: TestBroker | undefined;
  let d: RunningDaemon | undefined;
  let watch: Listener | undefined;
  let mnt = '';
  afterAll(async () => {
    await d?.stop();
    await watch?.close();
    await broker?.close();
    if (mnt) execFileSync('umount', ['-l', mnt]);
  });

  it('refuses a mutating command it cannot record with OSZ_E_STORE_IO, keeps serving, and takes it once the disk has room', async () => {
    const pair = newKeyPair();
    const key = crypto.createPrivateKey(pair.privatePem);
    const pub = path.join(tmpDir('osd-dkeys-'), 'admin.pub');
    fs.writeFileSync(pub, pair.publicPem);
    broker = await startBroker();
    watch = await listen(broker.url, `${base}/#`);
    mnt = path.join(tmpDir('osd-fdisk-'), 'sd');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', mnt]);
    d = await startDaemon({ home: path.join(mnt, 'h'), config: { fleet: { broker: broker.url, mqttVersion: 4, deviceId: DEVICE, issuers: [{ id: 'admin', publicKeyFile: pub, role: 'admin' }] } } });
    const w = watch;
    await waitFor('online', () => w.json<{ online: boolean }>(`${base}/status`)?.online === true);
    const send = async (op: string, params: Record<string, unknown> = {}): Promise<CommandReply> => {
      const cmd = makeCommand('admin', key, DEVICE, op, params);
      const before = w.messages.length;
      await w.client.publishAsync(`${base}/cmd/req/${op}`, JSON.stringify(cmd), { qos: 1 });
      const m = await waitFor(`reply to ${op}`, () => w.messages.slice(before).find((x) => x.topic === `${base}/cmd/res/${cmd.id}`), 15_000);
      return replySchema.parse(JSON.parse(m.payload));
    };
    expect(await send('logs.level', { level: 'info' })).toMatchObject({ ok: true });

    const filler = fillDisk(mnt);
    const refused = await send('logs.level', { level: 'info' });
    expect(refused.error?.code).toBe('OSZ_E_STORE_IO');
    // still alive and serving what needs no disk
    expect(d.proc.exitCode).toBeNull();
    expect(await send('daemon.ping')).toMatchObject({ ok: true });

    fs.rmSync(filler);
    expect(await waitFor('taken again', async () => ((await send('logs.level', { level: 'info' })).ok ? true : undefined), 30_000)).toBe(true);
  }, 90_000);
});
