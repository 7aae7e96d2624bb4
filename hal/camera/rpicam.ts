/**
 * The camera producer (DESIGN §5): one `rpicam-vid -t 0 -n --codec mjpeg -o -` process per
 * camera, its stdout split into JPEG frames. The same code runs the simulator's fake rpicam-vid,
 * so the sim board exercises the real path. Stills come from the running stream.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { MjpegSplitter } from './mjpeg';

export interface CameraCommand {
  /** e.g. ['rpicam-vid'] or [process.execPath, '.../fake-rpicam.mjs'] */
  argv: readonly string[];
}

export interface ProducerEvents {
  frame(jpeg: Buffer): void;
  /** the producer ended (it died, or was stopped); `error` says why when it was not asked to */
  end(error?: string): void;
}

export class RpicamProducer {
  /** the current run; each run keeps its own "asked to stop" flag, so a late exit of an old one is not an error */
  private run: { child: ChildProcess; stopping: boolean } | undefined;

  constructor(
    private readonly command: CameraCommand,
    private readonly opts: { width: number; height: number; fps: number },
  ) {}

  start(on: ProducerEvents): void {
    const [file = 'rpicam-vid', ...pre] = this.command.argv;
    const args = [...pre, '-t', '0', '-n', '--codec', 'mjpeg', '--width', String(this.opts.width), '--height', String(this.opts.height), '--framerate', String(this.opts.fps), '-o', '-'];
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const run = { child, stopping: false };
    this.run = run;
    const splitter = new MjpegSplitter((f) => on.frame(f));
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => splitter.push(c));
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + String(c)).slice(-2000)));
    child.once('error', (err) => on.end(`cannot start ${file}: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.run === run) this.run = undefined;
      if (run.stopping) on.end();
      else on.end(`${file} exited (code ${code}, signal ${signal})${stderr ? `: ${stderr.trim().split('\n').pop() ?? ''}` : ''}`);
    });
  }

  stop(): void {
    if (!this.run) return;
    this.run.stopping = true;
    this.run.child.kill('SIGTERM');
    this.run = undefined;
  }
}
