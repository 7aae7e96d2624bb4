/**
 * What the wasm driver (daemon thread) and a cell (sandbox worker thread) say to each other over
 * the worker's port, plus the two things both sides read: the watchdog's shared call slot and the
 * table of negative return codes the ABI's host functions use (docs/agent-abi.md).
 *
 * Everything agent-facing inside `msg` is a JSON-RPC object of the agent protocol
 * (docs/agent-protocol.md): the cell speaks that protocol on behalf of its guests, so the session
 * and supervisor above the driver are the same as for every other driver.
 */
import type { MirrorLayout } from '../../../../hal/mirror';

export interface GuestGrants {
  /** sensor types of the HAL mirror this guest may read (already resolved from its grants) */
  sensors: string[];
  actuators: string[];
  cameras: string[];
  /** event patterns it may emit */
  emit: string[];
}

export interface GuestRates {
  logPerSecond: number;
  emitPerSecond: number;
}

export interface AddGuest {
  c: 'add';
  i: string;
  slot: number;
  module: WebAssembly.Module;
  memory: { initialPages: number; maximumPages: number };
  agentId: string;
  token: string;
  env: Record<string, string>;
  args: string[];
  grants: GuestGrants;
  callTimeoutMs: number;
  /** read-only folders the WASI shim serves: the install copy, then plugins outside it */
  preopens: Array<{ name: string; dir: string }>;
  maxFileBytes: number;
  rates: GuestRates;
  /** the event a rule spawned the instance for, as JSON: what the ABI's `trigger` copies out */
  trigger: string | null;
  /** the last snapshot the guest pushed, handed to `restore` after `init` */
  snapshot: string | null;
  /** re-hosted after its cell was restarted: no hello, init and restore at once */
  resume: boolean;
}

export type ToCell =
  | AddGuest
  | { c: 'msg'; i: string; m: unknown; s: number }
  | { c: 'term'; i: string; s: number }
  | { c: 'drop'; i: string }
  /** recycling: acknowledge everything processed so far, say `retired`, and run nothing more */
  | { c: 'retire' };

export type FromCell =
  | { c: 'added'; i: string }
  | { c: 'exit'; i: string; code: number | null; signal: string | null; reason?: string }
  | { c: 'msg'; i: string; m: unknown }
  | { c: 'out'; i: string; stream: 'stdout' | 'stderr'; line: string }
  | { c: 'snap'; i: string; json: string }
  | { c: 'ack'; s: number }
  /** per guest: [instance, call time in ms since the last report, linear memory bytes] */
  | { c: 'usage'; u: Array<[string, number, number]> }
  /** guests past init, for the driver's heartbeat on their behalf */
  | { c: 'alive'; i: string[] }
  /** a guest left the cell; its linear memory (bytes) is garbage the cell's thread may keep mapped */
  | { c: 'left'; i: string; bytes: number }
  /** the answer to `retire`: every message before it was processed and acknowledged */
  | { c: 'retired' };

export interface CellData {
  /** the watchdog slot (WATCH_* indices), written by the cell, read by the daemon's watchdog */
  watch: SharedArrayBuffer;
  mirror: MirrorLayout | null;
  aliveMs: number;
  usageMs: number;
}

/** Float64 indices of the watch slot: start of the running call (monotonic ms, 0 = idle), its guest slot, its budget. */
export const WATCH_START = 0;
export const WATCH_SLOT = 1;
export const WATCH_BUDGET = 2;
export const WATCH_LENGTH = 3;

/** Monotonic milliseconds on the process-wide clock every thread shares (uv_hrtime). */
export function monoMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

/** Negative results of the ABI's host functions, and the stable error code each one stands for. */
export const ABI_ERRORS = {
  OSZ_E_INVALID_PARAMS: -1,
  OSZ_E_FORBIDDEN: -2,
  HAL_E_DENIED: -3,
  HAL_E_UNKNOWN_DEVICE: -4,
  HAL_E_BUSY: -5,
  HAL_E_UNAVAILABLE: -6,
  OSZ_E_RATE_LIMITED: -7,
  OSZ_E_TIMER_LIMIT: -8,
} as const;

export type AbiErrorCode = keyof typeof ABI_ERRORS;
