/**
 * A cap on the MQTT packets the link takes from its broker, enforced on the byte stream before
 * MQTT.js sees it. MQTT.js's parser (mqtt-packet) collects a packet whole before it parses it, and
 * has no size option: a 60 MB publish to the command topic cost the daemon 60 MB and more before
 * the link could refuse it. MQTT 5 lets the client announce a Maximum Packet Size that the broker
 * must honour (MQTT 5.0 §3.1.2.11.4: it discards the message "as if it had completed sending"
 * it); MQTT 3.1.1 has no such thing, and a broker may not honour it either. So the stream is cut
 * into packets by their fixed header (1 byte of type and flags, 1-4 bytes of remaining length:
 * MQTT 3.1.1 §2.2, 5.0 §2.1.4), which needs no buffering, and a packet whose header declares more
 * than the cap is skipped as its bytes pass, never held. A skipped QoS 1 PUBLISH is acknowledged
 * (PUBACK, §3.4), or the broker would send it again on every reconnect of the persistent session
 * and the link would never get past it; anything else oversized ends the connection.
 */
import { Duplex } from 'node:stream';

export interface DroppedPacket {
  /** the MQTT control packet type (3 = PUBLISH) */
  type: number;
  qos: number;
  /** the whole packet: fixed header and remaining length */
  bytes: number;
  /** a PUBLISH's topic and packet identifier, read from its variable header */
  topic?: string;
  packetId?: number;
}

const PUBLISH = 3;
/** topic length, a topic of at most 65,535 bytes, packet id */
const MAX_PUBLISH_HEAD = 2 + 65_535 + 2;

/** splits a byte stream into MQTT packets and takes out those over `max` bytes (returns what passes) */
export class PacketFilter {
  private head: number[] = [];
  private left = 0;
  private drop: { packet: DroppedPacket; peek: Buffer[]; peeked: number } | undefined;

  constructor(private readonly max: number) {}

  /** throws on a malformed fixed header (a remaining length of more than 4 bytes) */
  feed(chunk: Buffer, dropped: (p: DroppedPacket) => void): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        if (this.drop) this.peek(chunk.subarray(i, i + n));
        else out.push(chunk.subarray(i, i + n));
        i += n;
        this.left -= n;
        if (this.left === 0 && this.drop) this.finishDrop(dropped);
        continue;
      }
      const byte = chunk[i++] ?? 0;
      this.head.push(byte);
      if (this.head.length === 1) continue;
      if (byte & 0x80) {
        // the fourth length byte is the last one (MQTT 3.1.1 §2.2.3)
        if (this.head.length === 5) throw new Error('a malformed MQTT packet (remaining length over 4 bytes)');
        continue;
      }
      this.startPacket(out);
    }
    return out.length === 1 && out[0] ? out[0] : Buffer.concat(out);
  }

  private startPacket(out: Buffer[]): void {
    const [first = 0, ...len] = this.head;
    let remaining = 0;
    for (const [k, b] of len.entries()) remaining += (b & 0x7f) * 128 ** k;
    const bytes = this.head.length + remaining;
    if (bytes > this.max) this.drop = { packet: { type: first >> 4, qos: (first >> 1) & 3, bytes }, peek: [], peeked: 0 };
    else out.push(Buffer.from(this.head));
    this.head = [];
    this.left = remaining;
  }

  /** keeps the start of a dropped PUBLISH, enough for its topic and packet id */
  private peek(part: Buffer): void {
    const d = this.drop;
    if (!d || d.packet.type !== PUBLISH || d.peeked >= MAX_PUBLISH_HEAD) return;
    const take = part.subarray(0, MAX_PUBLISH_HEAD - d.peeked);
    d.peek.push(Buffer.from(take));
    d.peeked += take.length;
  }

  private finishDrop(dropped: (p: DroppedPacket) => void): void {
    const d = this.drop;
    this.drop = undefined;
    if (!d) return;
    const p = d.packet;
    if (p.type === PUBLISH) {
      const h = Buffer.concat(d.peek);
      const topicLen = h.length >= 2 ? h.readUInt16BE(0) : -1;
      if (topicLen >= 0 && h.length >= 2 + topicLen) p.topic = h.toString('utf8', 2, 2 + topicLen);
      if (p.qos > 0 && topicLen >= 0 && h.length >= 4 + topicLen) p.packetId = h.readUInt16BE(2 + topicLen);
    }
    dropped(p);
  }
}

/**
 * `inner` with its incoming packets over `max` bytes taken out: each is reported to `dropped`, a
 * QoS 1 PUBLISH is acknowledged, anything else oversized destroys the stream.
 */
export function guardStream(inner: Duplex, max: number, dropped: (p: DroppedPacket) => void): Duplex {
  return new GuardedStream(inner, new PacketFilter(max), dropped);
}

class GuardedStream extends Duplex {
  constructor(
    private readonly inner: Duplex,
    private readonly framer: PacketFilter,
    private readonly report: (p: DroppedPacket) => void,
  ) {
    super({ allowHalfOpen: false });
    inner.on('data', (chunk: Buffer) => this.onChunk(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  private onChunk(chunk: Buffer): void {
    let pass: Buffer;
    try {
      pass = this.framer.feed(chunk, (p) => this.onDropped(p));
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.destroyed || pass.length === 0) return;
    if (!this.push(pass)) this.inner.pause();
  }

  private onDropped(p: DroppedPacket): void {
    if (p.type !== PUBLISH || p.qos > 1 || (p.qos === 1 && p.packetId === undefined)) {
      this.report(p);
      this.destroy(new Error(`the broker sent an MQTT packet of type ${p.type} and ${p.bytes} bytes, over fleet.maxPacketBytes`));
      return;
    }
    // through this stream's own queue, so it cannot land inside a packet MQTT.js is writing
    if (p.qos === 1 && p.packetId !== undefined) this.write(Buffer.from([0x40, 0x02, p.packetId >> 8, p.packetId & 0xff]));
    this.report(p);
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // the socket's own buffer and drain are the backpressure; its errors arrive as 'error'
    if (this.inner.write(chunk)) cb();
    else this.inner.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }

  /** the link asks the TCP socket for no Nagle delay */
  setNoDelay(v: boolean): void {
    (this.inner as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(v);
  }
}
