/**
 * A stand-in for `rpicam-vid -t 0 -n --codec mjpeg --width W --height H --framerate F -o -`:
 * writes real (grey) JPEG frames to stdout at the frame rate, each captioned with its number and
 * time. FAKE_RPICAM_FRAMES=N ends after N frames with exit code 1 (a camera that dies);
 * FAKE_RPICAM_CHUNK=N writes in N-byte pieces so frames straddle pipe reads.
 */
import { greyJpeg } from '../camera/jpeg';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const width = arg('--width', 640);
const height = arg('--height', 480);
const fps = Math.max(1, arg('--framerate', 10));
const limit = Number(process.env.FAKE_RPICAM_FRAMES ?? '0');
const chunk = Number(process.env.FAKE_RPICAM_CHUNK ?? '0');
let n = 0;

const timer = setInterval(() => {
  n++;
  const frame = greyJpeg(width, height, `openstarry sim frame ${n} ${new Date().toISOString()}`);
  if (chunk > 0) for (let i = 0; i < frame.length; i += chunk) process.stdout.write(frame.subarray(i, i + chunk));
  else process.stdout.write(frame);
  if (limit > 0 && n >= limit) {
    clearInterval(timer);
    process.stderr.write('fake rpicam: camera disconnected\n');
    setTimeout(() => process.exit(1), 20);
  }
}, 1000 / fps);
process.on('SIGTERM', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
