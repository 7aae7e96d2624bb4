// unix-dgram ships no types: what the daemon uses of it (sd_notify datagrams).
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';
  export interface UnixDgramSocket extends EventEmitter {
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
    bind(path: string): void;
    close(): void;
  }
  export function createSocket(type: 'unix_dgram', listener?: (msg: Buffer, rinfo: unknown) => void): UnixDgramSocket;
}
