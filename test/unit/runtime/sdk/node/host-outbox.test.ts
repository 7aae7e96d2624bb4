import { describe, expect, it } from 'vitest';
import { HostOutbox, type OutboxSocket } from '../../../../../runtime/sdk/node/host-outbox';

/** A socket that takes `room` lines, then needs a drain; `take` empties it and drains. */
function fakeSocket(room: number): OutboxSocket & { written: string[]; take(): string[] } {
  let drain: () => void = () => undefined;
  let buffered = 0;
  const s = {
    written: [] as string[],
    get writableNeedDrain() {
      return buffered >= room;
    },
    write(text: string) {
      s.written.push(text.trim());
      buffered++;
      return buffered < room;
    },
    on(_e: 'drain', fn: () => void) {
      drain = fn;
      return s;
    },
    take() {
      const out = s.written.splice(0);
      buffered = 0;
      drain();
      return out;
    },
  };
  return s;
}

const tag = (line: string): string => (JSON.parse(line) as { t: string }).t;

describe('agent host outbox', () => {
  it('writes through while the socket has room; when full, keeps each instance in order and the host ahead', () => {
    const sock = fakeSocket(2);
    const box = new HostOutbox(sock, 1024, 1024, () => undefined);
    box.send('a', { t: 'a1' });
    box.send('a', { t: 'a2' }); // fills the socket
    box.send('a', { t: 'a3' });
    box.send('b', { t: 'b1' });
    box.send('a', { t: 'a4' });
    box.sendControl({ t: 'exit-c' });
    expect(sock.written.map(tag)).toEqual(['a1', 'a2']);
    expect(box.held).toBe(true);
    expect(sock.take().map(tag)).toEqual(['a1', 'a2']);
    // the host's message first, then one line per instance in turn
    expect(sock.take().map(tag)).toEqual(['exit-c', 'a3']);
    expect(sock.take().map(tag)).toEqual(['b1', 'a4']);
    expect(box.held).toBe(false);
  });

  it('ends an instance whose queue passes its bound, drops what it had waiting and all it sends later', () => {
    const sock = fakeSocket(1);
    const flooded: string[] = [];
    const box = new HostOutbox(sock, 1024, 100, (i) => flooded.push(i));
    box.send('a', { t: 'a0' });
    for (let i = 1; i <= 20; i++) box.send('a', { t: `a${i}` });
    box.send('b', { t: 'b1' });
    expect(flooded).toEqual(['a']);
    box.send('a', { t: 'late' });
    box.sendControl({ t: 'exit-a' });
    sock.take();
    expect([sock.take(), sock.take(), sock.take()].flat().map(tag)).toEqual(['exit-a', 'b1']);
  });

  it('replaces a message over the line cap with a line saying so', () => {
    const sock = fakeSocket(10);
    const box = new HostOutbox(sock, 200, 10_000, () => undefined);
    box.send('a', { t: 'x'.repeat(500) });
    expect(sock.written).toEqual(['{"c":"out","instance":"a","stream":"stderr","line":"openstarry agent host: a message over 200 bytes was dropped"}']);
  });
});
