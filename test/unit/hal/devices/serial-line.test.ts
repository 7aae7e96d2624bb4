import { describe, expect, it } from 'vitest';
import { ReopeningSerialLine, SerialLineSensor } from '../../../../hal/devices/serial-line';
import type { SerialLink } from '../../../../hal/serial/serial';

/** A link whose device side the test plays: `send` feeds lines, `lose` unplugs it. */
function fakeLink(path = '/dev/ttyUSB0'): SerialLink & { send(s: string): void; lose(why: string): void; closed: boolean } {
  const fns: ((c: Buffer) => void)[] = [];
  let lost: string | undefined;
  const link = {
    path,
    closed: false,
    get lost() {
      return lost;
    },
    write: () => Promise.resolve(),
    setBaudRate: () => Promise.resolve(),
    onData: (fn: (c: Buffer) => void) => void fns.push(fn),
    close: () => {
      link.closed = true;
      return Promise.resolve();
    },
    send: (s: string) => fns.forEach((f) => f(Buffer.from(s, 'latin1'))),
    lose: (why: string) => void (lost = why),
  };
  return link;
}

describe('SerialLineSensor', () => {
  it('parses name=value, name: value and NAME value pairs, split across chunks and CRLF', () => {
    const link = fakeLink();
    const s = new SerialLineSensor(link, ['moisture', 'temp', 'ec'], 60_000);
    link.send('moisture=4');
    link.send('1\r\ntemp: -3.5 junk EC 12\n');
    expect(s.read()).toEqual({ moisture: 41, temp: -3.5, ec: 12 });
  });

  it('drops a line longer than its cap instead of growing without end, and goes on', () => {
    const link = fakeLink();
    const s = new SerialLineSensor(link, ['moisture'], 60_000);
    link.send('x'.repeat(10_000));
    link.send('\nmoisture=7\n');
    expect(s.read()).toEqual({ moisture: 7 });
  });

  it('is not ready before the first line, and a fault once silent past staleMs', () => {
    let t = 0;
    const link = fakeLink();
    const s = new SerialLineSensor(link, ['moisture'], 1000, () => t);
    expect(() => s.read()).toThrow(expect.objectContaining({ code: 'HAL_E_BUSY' }));
    link.send('moisture=3\n');
    t = 1500;
    expect(() => s.read()).toThrow(/no data from \/dev\/ttyUSB0 in the last 1 s/);
    expect(() => s.read()).toThrow(expect.objectContaining({ code: 'HAL_E_BUS_IO' }));
  });
});

describe('ReopeningSerialLine', () => {
  it('starts with a port that cannot be opened yet, retries it at most every retryMs, and reads once it opens', async () => {
    let t = 0;
    let opens = 0;
    const plugged: ReturnType<typeof fakeLink>[] = [];
    const open = (): Promise<SerialLink> => {
      opens++;
      const link = plugged[0];
      if (!link) return Promise.reject(new Error('cannot open /dev/ttyUSB0: No such file or directory'));
      return Promise.resolve(link);
    };
    const line = await ReopeningSerialLine.open('/dev/ttyUSB0', open, ['moisture'], 1000, () => t, 5000);
    await expect(line.read()).rejects.toThrow(/No such file.*retrying every 5 s/);
    await expect(line.read()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
    t = 4000;
    await expect(line.read()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
    expect(opens).toBe(1);
    const link = fakeLink();
    plugged.push(link);
    t = 5000;
    await expect(line.read()).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
    expect(opens).toBe(2);
    link.send('moisture=12\n');
    await expect(line.read()).resolves.toEqual({ moisture: 12 });
  });

  /** a line over two fake links in turn, on a clock the test sets, that has read moisture=1 from the first */
  async function talkedOnce(): Promise<{ line: ReopeningSerialLine; links: Array<ReturnType<typeof fakeLink>>; opened: () => number; at: (ms: number) => void }> {
    let t = 0;
    const links = [fakeLink(), fakeLink()];
    let next = 0;
    const line = await ReopeningSerialLine.open('/dev/ttyUSB0', () => Promise.resolve(links[next++]!), ['moisture'], 1000, () => t, 5000);
    links[0]!.send('moisture=1\n');
    await expect(line.read()).resolves.toEqual({ moisture: 1 });
    return { line, links, opened: () => next, at: (ms) => (t = ms) };
  }

  it('closes a lost port, opens it again, and reads from the new one', async () => {
    const { line, links, at } = await talkedOnce();
    links[0]!.lose('the port closed');
    at(10);
    await expect(line.read()).rejects.toThrow(/the port closed/);
    expect(links[0]!.closed).toBe(true);
    at(5000);
    links[1]!.send('moisture=2\n'); // heard before it was reopened: not seen
    await expect(line.read()).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
    links[1]!.send('moisture=2\n');
    await expect(line.read()).resolves.toEqual({ moisture: 2 });
  });

  it('reopens a port that talked and then went silent for long, even when the old one never errored', async () => {
    const { line, links, opened, at } = await talkedOnce();
    // quiet for a while: a fault, but not yet a reason to reopen
    at(3000);
    await expect(line.read()).rejects.toThrow(/no data from \/dev\/ttyUSB0 in the last 1 s/);
    expect(opened()).toBe(1);
    // past max(retryMs, 4 x staleMs): the port is closed and opened again
    at(5001);
    await expect(line.read()).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
    expect([opened(), links[0]!.closed]).toEqual([2, true]);
    links[1]!.send('moisture=3\n');
    await expect(line.read()).resolves.toEqual({ moisture: 3 });
  });

  it('does not keep a port that finished opening after close()', async () => {
    const link = fakeLink();
    let release: () => void = () => undefined;
    let first = true;
    const open = (): Promise<SerialLink> => {
      if (first) {
        first = false;
        return Promise.reject(new Error('busy'));
      }
      return new Promise((r) => (release = () => r(link)));
    };
    let t = 0;
    const line = await ReopeningSerialLine.open('/dev/ttyUSB0', open, ['moisture'], 1000, () => t, 5000);
    t = 5000;
    const reading = line.read();
    await line.close();
    release();
    await expect(reading).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
    expect(link.closed).toBe(true);
  });
});
