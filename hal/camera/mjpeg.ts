/**
 * Splits an MJPEG byte stream (what `rpicam-vid --codec mjpeg -o -` writes) into JPEG frames:
 * a frame runs from SOI (FF D8) to EOI (FF D9). Frames may arrive split across any number of
 * chunks. A frame over `maxFrameBytes` is dropped and the splitter resynchronises on the next
 * SOI, so a corrupt stream cannot grow memory.
 */
export class MjpegSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  /** the last byte of the previous chunk, for markers split across chunks */
  private prev = -1;
  dropped = 0;

  constructor(
    private readonly onFrame: (frame: Buffer) => void,
    private readonly maxFrameBytes = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] ?? 0;
      const p = i === 0 ? this.prev : (chunk[i - 1] ?? 0);
      if (p !== 0xff) continue;
      if (!this.inFrame && b === 0xd8) {
        this.inFrame = true;
        this.parts = [Buffer.from([0xff])];
        this.size = 1;
        start = i;
      } else if (this.inFrame && b === 0xd9) {
        this.take(chunk.subarray(start, i + 1));
        if (this.inFrame) this.onFrame(Buffer.concat(this.parts, this.size));
        this.inFrame = false;
        this.parts = [];
        this.size = 0;
        start = i + 1;
      }
    }
    if (this.inFrame) this.take(chunk.subarray(start));
    this.prev = chunk.length ? (chunk[chunk.length - 1] ?? -1) : this.prev;
  }

  private take(part: Buffer): void {
    if (!this.inFrame || part.length === 0) return;
    this.size += part.length;
    if (this.size > this.maxFrameBytes) {
      this.dropped++;
      this.inFrame = false;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(part);
  }
}
