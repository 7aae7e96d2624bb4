/**
 * A minimal baseline JPEG (ITU-T T.81): a mid-grey image of the given size, one component, a DC
 * and an AC Huffman table with one code each, and a COM segment carrying a caption. Every block
 * is "DC difference 0, end of block", so the scan is two bits per 8x8 block. The fake rpicam-vid
 * sends these, so the camera path carries real, decodable frames without an encoder library.
 */
export function greyJpeg(width: number, height: number, caption: string): Buffer {
  const w = Math.max(8, Math.ceil(width / 8) * 8);
  const h = Math.max(8, Math.ceil(height / 8) * 8);
  const seg = (marker: number, body: Buffer): Buffer => {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(marker, 0);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
  };
  const dqt = Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)]);
  const sof = Buffer.from([8, h >> 8, h & 0xff, w >> 8, w & 0xff, 1, 1, 0x11, 0]);
  const table = (cls: number): Buffer => Buffer.concat([Buffer.from([cls << 4]), Buffer.from([1, ...new Array<number>(15).fill(0)]), Buffer.from([0])]);
  const comment = Buffer.from(caption.replace(/[^\x20-\x7e]/g, '?').slice(0, 200), 'latin1');
  const sos = Buffer.from([1, 1, 0x00, 0, 63, 0]);
  const bits = (w / 8) * (h / 8) * 2;
  const scan = Buffer.alloc(Math.ceil(bits / 8), 0);
  const spare = scan.length * 8 - bits;
  if (spare > 0) scan[scan.length - 1] = (1 << spare) - 1; // pad the last byte with 1 bits
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    seg(0xffdb, dqt),
    seg(0xffc0, sof),
    seg(0xffc4, table(0)),
    seg(0xffc4, table(1)),
    seg(0xfffe, comment),
    seg(0xffda, sos),
    scan,
    Buffer.from([0xff, 0xd9]),
  ]);
}
