// Serial figure for `npm run bench` (issue 7): bytes a second received through the HAL's serial
// backend (SerialportBackend and its link) beside the raw `serialport` stream with the same native
// binding, on the same socat pty pair, in the same run. Skipped (with the reason) without socat.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SerialportBackend } from '../../hal/serial/serialport';
import { median, sleep } from './measure';
import type { Add } from './wasm';

const TOTAL = 2 * 1024 * 1024;

export async function serialBench(work: string, add: Add): Promise<void> {
  try {
    execFileSync('sh', ['-c', 'command -v socat'], { stdio: 'ignore' });
  } catch {
    console.log('serial bench skipped: no socat (apt-get install socat)');
    return;
  }
  const { SerialPortStream } = await import('@serialport/stream');
  const bindings = (await import('@serialport/bindings-cpp')) as { autoDetect: () => unknown };
  const chunk = Buffer.alloc(4096, 0x61);
  let round = 0;
  /** a fresh socat pty pair (socat ends when a side closes); TOTAL bytes from the far end, timed until all arrived */
  const measure = async (open: (p: string) => Promise<{ onData(fn: (n: number) => void): void; close(): Promise<void> }>): Promise<number> => {
    const ours = path.join(work, `ttyA${++round}`);
    const theirs = path.join(work, `ttyB${round}`);
    const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${ours}`, `pty,raw,echo=0,link=${theirs}`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !(fs.existsSync(ours) && fs.existsSync(theirs)); i++) await sleep(50);
      const port = await open(ours);
      // written from libuv's pool: a blocking write on this thread would starve the reader
      const far = await fs.promises.open(theirs, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
      let got = 0;
      const done = new Promise<void>((resolve) =>
        port.onData((n) => {
          got += n;
          if (got >= TOTAL) resolve();
        }),
      );
      const t0 = performance.now();
      for (let sent = 0; sent < TOTAL; sent += chunk.length) await far.write(chunk);
      await done;
      const ms = performance.now() - t0;
      await port.close();
      await far.close();
      return ms;
    } finally {
      socat.kill();
    }
  };
  const hal: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < 3; i++) {
    hal.push(
      await measure(async (p) => {
        const link = await new SerialportBackend().open(p, 115200);
        return { onData: (fn) => link.onData((c) => fn(c.length)), close: () => link.close() };
      }),
    );
    raw.push(
      await measure(async (p) => {
        const port = new SerialPortStream({ binding: bindings.autoDetect() as never, path: p, baudRate: 115200 });
        await new Promise<void>((r, j) => port.once('open', () => r()).once('error', j));
        return { onData: (fn) => void port.on('data', (c: Buffer) => fn(c.length)), close: () => new Promise<void>((r) => port.close(() => r())) };
      }),
    );
  }
  const rate = (ms: number): number => TOTAL / 1024 / (ms / 1000);
  add('serial throughput through the HAL backend vs raw serialport (same pty pair)', rate(median(hal)), 'KiB/s', rate(median(raw)), null);
}
