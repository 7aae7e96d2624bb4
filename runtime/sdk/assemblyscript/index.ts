// The OpenStarry agent SDK for AssemblyScript (WASM ABI v2, docs/agent-abi.md).
//
// An agent's entry file exports `init` and re-exports the ABI functions it uses:
//
//   import { events, Event, hal, log, timer } from "./openstarry";
//   export { alloc, on_event } from "./openstarry";
//
//   export function init(): void {
//     events.on(handle);
//     timer.every("tick", 1000);
//   }
//   function handle(e: Event): void {
//     if (e.type == "timer:tick") log.info("tick");
//   }
//
// Compile with asc's --importMemory and a --maximumMemory (see docs/agent-abi.md); the host
// creates the memory and clamps its maximum to limits.memoryMb.
import * as host from "./host";
import * as json from "./json";

export { json };
export { JsonObject } from "./json";

// ---------------------------------------------------------------------------------------------
// Errors: host functions return these negative codes (the stable codes of every other driver).

export const OK: i32 = 0;
export const E_INVALID_PARAMS: i32 = -1;
export const E_FORBIDDEN: i32 = -2;
export const E_HAL_DENIED: i32 = -3;
export const E_HAL_UNKNOWN_DEVICE: i32 = -4;
export const E_HAL_BUSY: i32 = -5;
export const E_HAL_UNAVAILABLE: i32 = -6;
export const E_RATE_LIMITED: i32 = -7;
export const E_TIMER_LIMIT: i32 = -8;

/** The stable error code for a negative result, e.g. "HAL_E_DENIED". */
export function errorName(code: i32): string {
  switch (code) {
    case E_INVALID_PARAMS: return "OSZ_E_INVALID_PARAMS";
    case E_FORBIDDEN: return "OSZ_E_FORBIDDEN";
    case E_HAL_DENIED: return "HAL_E_DENIED";
    case E_HAL_UNKNOWN_DEVICE: return "HAL_E_UNKNOWN_DEVICE";
    case E_HAL_BUSY: return "HAL_E_BUSY";
    case E_HAL_UNAVAILABLE: return "HAL_E_UNAVAILABLE";
    case E_RATE_LIMITED: return "OSZ_E_RATE_LIMITED";
    case E_TIMER_LIMIT: return "OSZ_E_TIMER_LIMIT";
    default: return code >= 0 ? "OK" : "OSZ_E_INTERNAL";
  }
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

// ---------------------------------------------------------------------------------------------
// Events

/** One event (the envelope of DESIGN §12.4) as JSON text, with readers for its fields. */
export class Event {
  constructor(public readonly json: string) {}

  get id(): string {
    const v = json.get(this.json, "id");
    return v == null ? "" : json.unquote(v);
  }

  get type(): string {
    const v = json.get(this.json, "type");
    return v == null ? "" : json.unquote(v);
  }

  get source(): string {
    const v = json.get(this.json, "source");
    return v == null ? "" : json.unquote(v);
  }

  /** data as JSON text */
  get data(): string {
    const v = json.get(this.json, "data");
    return v == null ? "{}" : v;
  }

  has(path: string): bool {
    return json.get(this.json, "data." + path) != null;
  }

  /** data.<path> as a number (NaN when missing or not a number) */
  number(path: string): f64 {
    const v = json.get(this.json, "data." + path);
    if (v == null) return NaN;
    const c = v.charCodeAt(0);
    if (c == 0x22 || c == 0x7b || c == 0x5b || c == 0x74 || c == 0x66 || c == 0x6e) return NaN;
    return parseFloat(v);
  }

  /** data.<path> as a string ("" when missing; non-strings as their JSON text) */
  string(path: string): string {
    const v = json.get(this.json, "data." + path);
    return v == null ? "" : json.unquote(v);
  }

  bool(path: string): bool {
    const v = json.get(this.json, "data." + path);
    return v != null && v == "true";
  }
}

let triggerEvent: Event | null = null;
let triggerRead: bool = false;

/**
 * The event that woke this instance when a rule spawned it (the whole envelope, e.g.
 * `trigger()!.string("branch")` of a `git:commit_pushed`), the same after a restart; null when an
 * operator spawned it. Read from the host once (ABI v2's `trigger`), then kept.
 */
export function trigger(): Event | null {
  if (triggerRead) return triggerEvent;
  const n = host.trigger(0, 0);
  if (n > 0) {
    const buf = new ArrayBuffer(n);
    if (host.trigger(changetype<usize>(buf), n) == n) triggerEvent = new Event(String.UTF8.decode(buf));
  }
  triggerRead = true;
  return triggerEvent;
}

let handler: ((e: Event) => void) | null = null;
let restoreHandler: ((snapshotJson: string) => void) | null = null;
let stopHandler: (() => void) | null = null;
let snapshotHandler: (() => string) | null = null;
let signalHandler: ((sig: string) => void) | null = null;

export namespace events {
  /** The function every subscribed event (and hal:result, timer:*, signal:*) is given to. */
  export function on(fn: (e: Event) => void): void {
    handler = fn;
  }
}

/** ABI export: room for the host to write `len` bytes (pinned until on_event/restore takes it). */
export function alloc(len: i32): usize {
  return __pin(changetype<usize>(new ArrayBuffer(len)));
}

function take(ptr: usize, len: i32): string {
  const s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  __unpin(ptr);
  return s;
}

/**
 * ABI export: one event as UTF-8 JSON. `signal:hup`, `signal:usr1` and `signal:usr2` go to the
 * lifecycle.onSignal function when there is one (as "SIGHUP", …), else to the event function;
 * without either they are ignored. No signal but TERM and KILL ends a WASM agent.
 */
export function on_event(ptr: usize, len: i32): void {
  const e = new Event(take(ptr, len));
  const s = signalHandler;
  if (s && e.source == "supervisor" && e.type.startsWith("signal:")) {
    s("SIG" + e.type.slice(7).toUpperCase());
    return;
  }
  const h = handler;
  if (h) h(e);
}

/** ABI export: the host restarts this agent from its last snapshot (after init). */
export function restore(ptr: usize, len: i32): void {
  const s = take(ptr, len);
  const h = restoreHandler;
  if (h) h(s);
}

/** ABI export: TERM. */
export function stop(): void {
  const h = stopHandler;
  if (h) h();
}

/** ABI export: the host asks for a fresh snapshot. */
export function snapshot(): void {
  const h = snapshotHandler;
  if (h) state.set(h());
}

export namespace lifecycle {
  export function onRestore(fn: (snapshotJson: string) => void): void {
    restoreHandler = fn;
  }
  export function onStop(fn: () => void): void {
    stopHandler = fn;
  }
  /** what `snapshot()` pushes when the host asks */
  export function onSnapshot(fn: () => string): void {
    snapshotHandler = fn;
  }
  /** HUP, USR1, USR2 from `openstarryctl signal`, as "SIGHUP", "SIGUSR1", "SIGUSR2" */
  export function onSignal(fn: (sig: string) => void): void {
    signalHandler = fn;
  }
}

// ---------------------------------------------------------------------------------------------
// Host operations

export namespace log {
  function write(level: i32, msg: string): void {
    const b = utf8(msg);
    host.log(level, changetype<usize>(b), b.byteLength);
  }
  export function debug(msg: string): void { write(0, msg); }
  export function info(msg: string): void { write(1, msg); }
  export function warn(msg: string): void { write(2, msg); }
  export function error(msg: string): void { write(3, msg); }
}

/** Emits an event of a type the manifest grants (capabilities.events.emit); data is a JSON object. */
export function emit(type: string, data: string = "{}"): i32 {
  const t = utf8(type);
  const d = utf8(data);
  return host.emit(changetype<usize>(t), t.byteLength, changetype<usize>(d), d.byteLength);
}

/** Unix time in milliseconds. */
export function now(): f64 {
  return host.now_ms();
}

/** Reports tokens used (counted against limits.tokensPerHour). */
export function tokens(n: i32): void {
  host.tokens(n);
}

export class Reading {
  constructor(public value: f64, public ts: f64) {}
  /** how old the reading is, in ms */
  get ageMs(): f64 {
    return host.now_ms() - this.ts;
  }
}

const READING = memory.data(16, 8);
let lastType: string = "";
let lastTypeBytes: ArrayBuffer = new ArrayBuffer(0);

/** The UTF-8 bytes of a sensor type, kept for the next read of the same type (agents poll the same few). */
function typeBytes(t: string): ArrayBuffer {
  if (t != lastType) {
    lastType = t;
    lastTypeBytes = utf8(t);
  }
  return lastTypeBytes;
}

export namespace hal {
  /** the result of the last call that failed (see errorName) */
  export let lastError: i32 = 0;

  /** The latest reading of a granted sensor type, without waiting; null when there is none (see lastError). */
  export function read(sensorType: string): Reading | null {
    const t = typeBytes(sensorType);
    const rc = host.hal_read(changetype<usize>(t), t.byteLength, READING);
    if (rc < 0) {
      lastError = rc;
      return null;
    }
    return new Reading(load<f64>(READING), load<f64>(READING, 8));
  }

  /** The latest value of a granted sensor type, or NaN (see lastError); allocates nothing. */
  export function value(sensorType: string): f64 {
    const t = typeBytes(sensorType);
    const rc = host.hal_read(changetype<usize>(t), t.byteLength, READING);
    if (rc < 0) {
      lastError = rc;
      return NaN;
    }
    return load<f64>(READING);
  }

  /** Asks for an actuator command ("on", "off", "toggle"); returns a request id answered by a hal:result event, or a negative error. */
  export function actuate(deviceId: string, command: string): i32 {
    const d = utf8(deviceId);
    const c = utf8(command);
    const rc = host.hal_actuate(changetype<usize>(d), d.byteLength, changetype<usize>(c), c.byteLength);
    if (rc < 0) lastError = rc;
    return rc;
  }

  /** Asks for a camera still; the hal:result event carries it as base64 JPEG in data.jpeg. */
  export function camera(deviceId: string): i32 {
    const d = utf8(deviceId);
    const rc = host.camera_frame(changetype<usize>(d), d.byteLength);
    if (rc < 0) lastError = rc;
    return rc;
  }
}

export namespace timer {
  /** A `timer:<name>` event every `ms` milliseconds (10 ms to 24 h; a name set again is replaced). */
  export function every(name: string, ms: i32): i32 {
    const n = utf8(name);
    return host.timer_set(changetype<usize>(n), n.byteLength, ms, 1);
  }
  /** One `timer:<name>` event after `ms` milliseconds. */
  export function after(name: string, ms: i32): i32 {
    const n = utf8(name);
    return host.timer_set(changetype<usize>(n), n.byteLength, ms, 0);
  }
  export function clear(name: string): i32 {
    const n = utf8(name);
    return host.timer_clear(changetype<usize>(n), n.byteLength);
  }
}

export namespace state {
  /** Pushes a snapshot (JSON, at most 64 KB): the dashboard shows it and a restart restores it. */
  export function set(snapshotJson: string): i32 {
    const b = utf8(snapshotJson);
    return host.snapshot_set(changetype<usize>(b), b.byteLength);
  }
}
