/**
 * The serial contract (DESIGN §5): a byte link to a UART. Implementations: `serialport` with its
 * native binding (a Pi's /dev/serial0, or a pty in tests), and the same code with serialport's
 * mock binding for the sim board. One contract suite runs against each.
 *
 * Obligations: `onData` sees every byte in order; `write` resolves once the bytes are handed to
 * the OS; `setBaudRate` changes the speed of the open port (an integer from 50 to 4,000,000, else
 * HAL_E_COMMAND_NOT_ALLOWED) and bytes keep flowing; after `close()` writes reject and no more
 * data arrives.
 */
export interface SerialLink {
  readonly path: string;
  write(data: string | Buffer): Promise<void>;
  onData(fn: (chunk: Buffer) => void): void;
  setBaudRate(baudRate: number): Promise<void>;
  close(): Promise<void>;
  /** why the port went away by itself (unplugged, its other end gone), if it did */
  readonly lost?: string;
}

export interface SerialBackend {
  open(path: string, baudRate: number): Promise<SerialLink>;
}
