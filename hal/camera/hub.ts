/**
 * One camera, many readers (DESIGN §5): the producer runs while anyone watches; each reader gets
 * a ReadableStream of JPEG frames with its own small queue, and a slow reader loses its oldest
 * frames rather than growing memory. The latest frame serves stills. If the producer dies, every
 * reader's stream fails with HAL_E_BUS_IO; the next reader starts it again.
 */
import { HalError } from '../errors';
import type { RpicamProducer } from './rpicam';

interface Reader {
  queue: Buffer[];
  controller: ReadableStreamDefaultController<Uint8Array>;
  dropped: number;
}

export class CameraHub {
  private readonly readers = new Set<Reader>();
  private running = false;
  latest: Buffer | undefined;
  latestAt = 0;
  frames = 0;

  constructor(
    readonly deviceId: string,
    private readonly producer: RpicamProducer,
    private readonly queueFrames = 4,
  ) {}

  /** A stream of whole JPEG frames; cancelling it detaches the reader. */
  open(): ReadableStream<Uint8Array> {
    let reader!: Reader;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          reader = { queue: [], controller, dropped: 0 };
          this.readers.add(reader);
          this.ensureRunning();
        },
        pull: () => {
          const next = reader.queue.shift();
          if (next) reader.controller.enqueue(next);
        },
        cancel: () => {
          this.detach(reader);
        },
      },
      { highWaterMark: 1, size: () => 1 },
    );
  }

  get readerCount(): number {
    return this.readers.size;
  }

  droppedFor(stream: number): number {
    return [...this.readers][stream]?.dropped ?? 0;
  }

  stop(): void {
    for (const r of this.readers) r.controller.close();
    this.readers.clear();
    this.halt();
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.running = true;
    this.producer.start({
      frame: (f) => this.deliver(f),
      end: (error) => {
        if (!error) return;
        this.running = false;
        const err = new HalError('HAL_E_BUS_IO', `camera ${this.deviceId}: ${error}`, { device: this.deviceId });
        for (const r of this.readers) r.controller.error(err);
        this.readers.clear();
      },
    });
  }

  private deliver(frame: Buffer): void {
    this.latest = frame;
    this.latestAt = Date.now();
    this.frames++;
    for (const r of this.readers) {
      if ((r.controller.desiredSize ?? 0) > 0 && r.queue.length === 0) {
        r.controller.enqueue(frame);
        continue;
      }
      r.queue.push(frame);
      if (r.queue.length > this.queueFrames) {
        r.queue.shift();
        r.dropped++;
      }
    }
  }

  private detach(r: Reader): void {
    this.readers.delete(r);
    if (this.readers.size === 0) this.halt();
  }

  private halt(): void {
    if (!this.running) return;
    this.running = false;
    this.producer.stop();
  }
}
