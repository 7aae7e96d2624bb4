/** The real serialport binding over a real pty pair made by socat (DESIGN §5: real OS parts). */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SerialLineSensor } from '../../hal/devices/serial-line';
import { SimGpio } from '../../hal/gpio/sim';
import { Hal } from '../../hal/hal';
import { profileSchema } from '../../hal/profile/schema';
import { SerialportBackend } from '../../hal/serial/serialport';
import { describeWith, hasCommand } from '../helpers/system';
import { tmpDir, waitFor } from '../helpers/tmp';
import { describeSerialContract } from './serial.contract';

/**
 * A socat pty pair at `<dir>/ttyA` (ours, for the link) and `<dir>/ttyB` (the device's end, opened
 * non-blocking as `far`). Called again on the same dir it replaces the pair at the same paths.
 */
async function ptyPair(dir: string): Promise<{ ours: string; socat: ChildProcess; far: number }> {
  const ours = path.join(dir, 'ttyA');
  const theirs = path.join(dir, 'ttyB');
  for (const p of [ours, theirs]) fs.rmSync(p, { force: true });
  const socat = spawn('socat', [`pty,raw,echo=0,link=${ours}`, `pty,raw,echo=0,link=${theirs}`], { stdio: 'ignore' });
  await waitFor('ptys', () => fs.existsSync(ours) && fs.existsSync(theirs), 10_000);
  return { ours, socat, far: fs.openSync(theirs, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK) };
}

describeWith('serial over a socat pty pair', [hasCommand('socat', 'socat')], () => {
  describeSerialContract('serialport with the native binding on a pty', async () => {
    const { ours, socat, far } = await ptyPair(tmpDir('osd-pty-'));
    const link = await new SerialportBackend().open(ours, 9600);
    let received = '';
    return {
      link,
      deviceSends: (d) => Promise.resolve(void fs.writeSync(far, d)),
      deviceReceived: () => {
        const buf = Buffer.alloc(4096);
        try {
          const n = fs.readSync(far, buf, 0, buf.length, null);
          received += buf.subarray(0, n).toString('latin1');
        } catch {
          /* EAGAIN: nothing yet */
        }
        return Promise.resolve(received);
      },
      // what the kernel's termios of our end says, read by stty as another program would
      baudRate: () => new Promise((resolve, reject) => execFile('stty', ['-F', ours, 'speed'], (err, out) => (err ? reject(new Error(`stty: ${err.message}`)) : resolve(Number(out.trim()))))),
      cleanup: async () => {
        await link.close();
        fs.closeSync(far);
        socat.kill();
      },
    };
  });

  describe('a port that disappears', () => {
    it('does not take the process down; writes then fail with HAL_E_BUS_IO and the line sensor goes stale', async () => {
      const { ours, socat, far } = await ptyPair(tmpDir('osd-pty-gone-'));
      const link = await new SerialportBackend().open(ours, 9600);
      let t = 0;
      const sensor = new SerialLineSensor(link, ['moisture'], 1000, () => t);
      fs.writeSync(far, 'moisture=41\n');
      await waitFor('a reading', () => {
        try {
          return sensor.read().moisture === 41;
        } catch {
          return false;
        }
      });
      fs.closeSync(far);
      socat.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await waitFor('writes fail', async () => link.write('x').then(() => false, (err: { code?: string }) => err.code === 'HAL_E_BUS_IO'), 10_000);
      t += 5000;
      expect(() => sensor.read()).toThrow(/no data from .* in the last 1 s/);
      await link.close();
    });
  });

  describe('a port that comes back', () => {
    it('is reopened by the HAL, and the line sensor reads again', async () => {
      const dir = tmpDir('osd-pty-back-');
      const ours = path.join(dir, 'ttyA');
      const profile = profileSchema.parse({
        schema: 'openstarry.board/v1',
        name: 'probe',
        buses: { uart0: { kind: 'serial', device: 'serial0' } },
        devices: [{ id: 'soil', kind: 'sensor', driver: 'serial-line', bus: 'uart0', pollMs: 100, channels: { moisture: { unit: '%' } } }],
        sensorTypes: { moisture: 'soil.moisture' },
      });
      const serial = new SerialportBackend();
      const hal = new Hal(profile, { gpio: new SimGpio(8), i2c: () => { throw new Error('no i2c'); }, serial: { open: (_d, baud) => serial.open(ours, baud) } }, { record: () => undefined }, { emit: () => undefined });
      let p = await ptyPair(dir);
      await hal.start();
      const moisture = async (): Promise<number | undefined> => hal.getSensorReading('moisture', { kind: 'operator', actor: 't' }).then((r) => r.value, () => undefined);
      const feed = setInterval(() => {
        try {
          fs.writeSync(p.far, `moisture=${fed}\n`);
        } catch {
          /* the pair is being replaced */
        }
      }, 50);
      let fed = 41;
      try {
        await waitFor('first reading', async () => (await moisture()) === 41);
        // Unplugged: the links go first, so that nothing (here or in another test process) opens a
        // stale link to a /dev/pts number the kernel has since given to someone else.
        for (const f of ['ttyA', 'ttyB']) fs.rmSync(path.join(dir, f), { force: true });
        const gone = new Promise((r) => p.socat.once('exit', r));
        p.socat.kill('SIGKILL');
        fs.closeSync(p.far);
        await gone;
        await new Promise((r) => setTimeout(r, 300));
        fed = 55;
        p = await ptyPair(dir);
        await waitFor('reading after the port came back', async () => (await moisture()) === 55, 20_000);
      } finally {
        clearInterval(feed);
        await hal.stop();
        p.socat.kill();
      }
    }, 40_000);
  });
});

