import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CameraHub } from '../../../../hal/camera/hub';
import { greyJpeg } from '../../../../hal/camera/jpeg';
import { MjpegSplitter } from '../../../../hal/camera/mjpeg';
import { RpicamProducer } from '../../../../hal/camera/rpicam';
import { REPO, waitFor } from '../../../helpers/tmp';

const FAKE = [process.execPath, path.join(REPO, 'dist/sim/fake-rpicam.mjs')];

describe('MJPEG splitter', () => {
  it('finds whole frames however the stream is cut, including between FF and D8/D9', () => {
    const frames = [greyJpeg(16, 16, 'one'), greyJpeg(32, 8, 'two'), greyJpeg(8, 8, 'three')];
    const stream = Buffer.concat([Buffer.from('garbage before the first frame'), ...frames]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const got: Buffer[] = [];
      const s = new MjpegSplitter((f) => got.push(f));
      for (let i = 0; i < stream.length; i += size) s.push(stream.subarray(i, i + size));
      expect(got, `chunk size ${size}`).toEqual(frames);
    }
  });

  it('drops an oversized frame and resynchronises on the next one', () => {
    const got: Buffer[] = [];
    const s = new MjpegSplitter((f) => got.push(f), 1000);
    const huge = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(5000, 0x11), Buffer.from([0xff, 0xd9])]);
    const ok = greyJpeg(8, 8, 'after');
    s.push(huge);
    s.push(ok);
    expect(got).toEqual([ok]);
    expect(s.dropped).toBe(1);
  });
});

describe('camera hub over the fake rpicam-vid', () => {
  async function frames(stream: ReadableStream<Uint8Array>, n: number): Promise<Uint8Array[]> {
    const r = stream.getReader();
    const out: Uint8Array[] = [];
    while (out.length < n) {
      const { value, done } = await r.read();
      if (done || !value) break;
      out.push(value);
    }
    await r.cancel();
    return out;
  }

  it('fans frames out to several readers from one producer, and stops it after the last leaves', async () => {
    process.env.FAKE_RPICAM_CHUNK = '7';
    const hub = new CameraHub('cam0', new RpicamProducer({ argv: FAKE }, { width: 64, height: 48, fps: 30 }));
    const [a, b] = await Promise.all([frames(hub.open(), 3), frames(hub.open(), 3)]);
    delete process.env.FAKE_RPICAM_CHUNK;
    for (const f of [...(a ?? []), ...(b ?? [])]) {
      expect(f[0]).toBe(0xff);
      expect(f[1]).toBe(0xd8);
      expect(Buffer.from(f).subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
      expect(Buffer.from(f).toString('latin1')).toMatch(/openstarry sim frame \d+/);
    }
    expect(hub.latest?.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    await waitFor('producer stopped', () => hub.readerCount === 0);
  });

  it('fails every reader with HAL_E_BUS_IO when the camera process dies, and restarts for the next reader', async () => {
    process.env.FAKE_RPICAM_FRAMES = '2';
    const hub = new CameraHub('cam0', new RpicamProducer({ argv: FAKE }, { width: 16, height: 16, fps: 50 }));
    const r = hub.open().getReader();
    delete process.env.FAKE_RPICAM_FRAMES;
    const err = await (async () => {
      for (;;) {
        try {
          const { done } = await r.read();
          if (done) return undefined;
        } catch (e) {
          return e as { code?: string; message: string };
        }
      }
    })();
    expect(err?.code).toBe('HAL_E_BUS_IO');
    expect(err?.message).toContain('camera disconnected');
    expect((await frames(hub.open(), 1)).length).toBe(1);
  });

  it('keeps a slow reader to a few frames, dropping the oldest', async () => {
    const hub = new CameraHub('cam0', new RpicamProducer({ argv: FAKE }, { width: 16, height: 16, fps: 100 }), 4);
    const slow = hub.open();
    await waitFor('frames flowed', () => hub.frames >= 30, 10_000);
    expect(hub.droppedFor(0)).toBeGreaterThan(10);
    const got = await frames(slow, 6);
    const numbers = got.map((f) => Number(/frame (\d+)/.exec(Buffer.from(f).toString('latin1'))?.[1]));
    // The first frame was waiting in the stream; the next ones are recent, the oldest were dropped.
    expect(numbers[1] ?? 0).toBeGreaterThan(20);
    hub.stop();
  });
});
