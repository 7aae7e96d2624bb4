/**
 * Serial over the `serialport` packages: `SerialPortStream` with an injected binding (DESIGN §5).
 * The native binding (`@serialport/bindings-cpp`) is an optional dependency, loaded with import()
 * only here, so boards and tests without it still start.
 */
import { HalError } from '../errors';
import type { SerialBackend, SerialLink } from './serial';

/** The shape of a serialport binding (bindings-cpp's autoDetect() or MockBinding). */
export type SerialBinding = unknown;

export class SerialportBackend implements SerialBackend {
  /** `onOpen` gives the simulator the opened stream, to play the device's side through the mock binding */
  constructor(
    private readonly binding?: SerialBinding,
    private readonly onOpen?: (path: string, port: { port?: unknown }) => void,
  ) {}

  async open(path: string, baudRate: number): Promise<SerialLink> {
    // Both are CommonJS: bundled, their exports sit on `default`; run from source, also by name.
    const stream = (await import('@serialport/stream')) as typeof import('@serialport/stream') & { default?: typeof import('@serialport/stream') };
    const SerialPortStream = stream.SerialPortStream ?? stream.default?.SerialPortStream;
    const native = async (): Promise<unknown> => {
      const m = (await import('@serialport/bindings-cpp')) as { autoDetect?: () => unknown; default?: { autoDetect(): unknown } };
      return (m.autoDetect ?? m.default?.autoDetect)?.();
    };
    const binding = this.binding ?? (await native());
    const port = new SerialPortStream({ binding: binding as never, path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new HalError('HAL_E_BUS_IO', `cannot open ${path}: ${err.message}`, { path })) : resolve())),
    );
    this.onOpen?.(path, port);
    let closed = false;
    let lost: string | undefined;
    // A port that disappears (a USB adapter unplugged, the pty's other end gone) emits 'error' and
    // 'close': without these listeners an 'error' event would take the whole daemon down.
    port.on('error', (err: Error) => {
      lost = err.message;
    });
    port.on('close', () => {
      if (!closed) lost ??= 'the port closed';
      closed = true;
    });
    return {
      path,
      get lost() {
        return lost;
      },
      write: (data) =>
        new Promise<void>((resolve, reject) => {
          if (closed) return reject(new HalError('HAL_E_BUS_IO', `${path} is closed${lost ? ` (${lost})` : ''}`, { path }));
          port.write(data, (err) => (err ? reject(new HalError('HAL_E_BUS_IO', `write to ${path}: ${err.message}`, { path })) : port.drain(() => resolve())));
        }),
      onData: (fn) => void port.on('data', (c: Buffer) => !closed && fn(c)),
      setBaudRate: (baud) =>
        new Promise<void>((resolve, reject) => {
          if (!Number.isInteger(baud) || baud < 50 || baud > 4_000_000) return reject(new HalError('HAL_E_COMMAND_NOT_ALLOWED', `${path}: a baud rate is a whole number from 50 to 4000000, not ${String(baud).slice(0, 16)}`, { path }));
          if (closed) return reject(new HalError('HAL_E_BUS_IO', `${path} is closed${lost ? ` (${lost})` : ''}`, { path }));
          port.update({ baudRate: baud }, (err) => (err ? reject(new HalError('HAL_E_BUS_IO', `${path}: cannot set ${baud} baud: ${err.message}`, { path })) : resolve()));
        }),
      close: () =>
        new Promise<void>((resolve) => {
          if (closed) return resolve();
          closed = true;
          port.close(() => resolve());
        }),
    };
  }
}
