/** The real serialport binding over a real pty pair made by socat (DESIGN §5: real OS parts). */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SerialportBackend } from '../../hal/serial/serialport';
import { describeWith, hasCommand } from '../helpers/system';
import { tmpDir, waitFor } from '../helpers/tmp';
import { describeSerialContract } from './serial.contract';

describeWith('serial over a socat pty pair', [hasCommand('socat', 'socat')], () => {
  describeSerialContract('serialport with the native binding on a pty', async () => {
    const dir = tmpDir('osd-pty-');
    const ours = path.join(dir, 'ttyA');
    const theirs = path.join(dir, 'ttyB');
    const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${ours}`, `pty,raw,echo=0,link=${theirs}`], { stdio: 'ignore' });
    await waitFor('ptys', () => fs.existsSync(ours) && fs.existsSync(theirs), 10_000);
    const link = await new SerialportBackend().open(ours, 9600);
    const far = fs.openSync(theirs, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
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
      cleanup: async () => {
        await link.close();
        fs.closeSync(far);
        socat.kill();
      },
    };
  });
});
