/**
 * The host functions of WASM ABI v2, module `openstarry` (docs/agent-abi.md), for one guest.
 * Every argument is an untrusted i32 from the guest; every failure is a negative result from the
 * ABI's table (protocol.ts), never an exception. Sensor reads come from the HAL's mirror without
 * waiting; HAL commands, emits and timers become agent-protocol requests answered later.
 */
import type { MirrorReader } from '../../../../../hal/mirror';
import { EVENT_TYPE, MAX_EVENT_DATA_BYTES } from '../../../../bus/limits';
import { matchesAny } from '../../../../bus/pattern';
import { MAX_TIMER_MS, MIN_TIMER_MS, TIMER_NAME } from '../../../timers';
import { ABI_ERRORS, type GuestGrants } from '../protocol';
import type { GuestMemory } from './guest-memory';
import type { RateBucket } from './rate';

/** hal: answered to the guest as hal:result; note: a failure goes to its log; audit: only for the HAL's audit trail. */
export type Pending = { kind: 'hal'; requestId: number; deviceId: string; camera: boolean } | { kind: 'note'; what: string } | { kind: 'audit' };

export interface HostContext {
  grants: GuestGrants;
  mirror: MirrorReader | null;
  memory(): GuestMemory;
  /** a JSON-RPC notification to the host side */
  post(m: unknown): void;
  request(method: string, params: unknown, pending: Pending): void;
  /** a line about the guest in its log (rate-limited there) */
  note(text: string): void;
  logBucket: RateBucket;
  emitBucket: RateBucket;
  pendingCount(): number;
  nextRequestId(): number;
  setSnapshot(json: string): void;
  /** tokens used; coalesced before they reach the daemon */
  tokens(n: number): void;
  /** the event that woke the instance, as UTF-8 JSON (null: none) */
  trigger: Uint8Array | null;
}

const MAX_LOG_BYTES = 16 * 1024;
const MAX_SNAPSHOT_BYTES = 64 * 1024;
const MAX_PENDING = 256;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const E = ABI_ERRORS;

/** ABI v2 module `openstarry` (docs/agent-abi.md). Never throws: bad input is a negative result. */
export function hostFunctions(h: HostContext): Record<string, (...args: never[]) => unknown> {
  const g = h.grants;
  const text = (ptr: number, len: number, max: number): string | undefined => {
    try {
      return len >>> 0 > max ? undefined : h.memory().text(ptr, len, max);
    } catch {
      return undefined;
    }
  };
  const halRequest = (method: 'hal.actuate' | 'hal.camera', deviceId: string, params: Record<string, unknown>): number => {
    if (h.pendingCount() >= MAX_PENDING || !h.emitBucket.take()) return E.OSZ_E_RATE_LIMITED;
    const requestId = h.nextRequestId();
    h.request(method, { deviceId, ...params }, { kind: 'hal', requestId, deviceId, camera: method === 'hal.camera' });
    return requestId;
  };
  return {
    log: (level: number, ptr: number, len: number): void => {
      const msg = text(ptr, Math.min(len >>> 0, MAX_LOG_BYTES), MAX_LOG_BYTES);
      if (msg === undefined || !h.logBucket.take()) return;
      h.post({ jsonrpc: '2.0', method: 'log', params: { level: LEVELS[level] ?? 'info', msg } });
    },
    emit: (typePtr: number, typeLen: number, dataPtr: number, dataLen: number): number => {
      const type = text(typePtr, typeLen, 200);
      if (type === undefined || !EVENT_TYPE.test(type)) return E.OSZ_E_INVALID_PARAMS;
      if (!matchesAny(g.emit, type)) {
        h.note(`emit "${type}" refused: add it to capabilities.events.emit`);
        return E.OSZ_E_FORBIDDEN;
      }
      const json = dataLen >>> 0 === 0 ? '{}' : text(dataPtr, dataLen, MAX_EVENT_DATA_BYTES);
      if (json === undefined) return E.OSZ_E_INVALID_PARAMS;
      let data: unknown;
      try {
        data = JSON.parse(json);
      } catch {
        return E.OSZ_E_INVALID_PARAMS;
      }
      if (data === null || typeof data !== 'object' || Array.isArray(data)) return E.OSZ_E_INVALID_PARAMS;
      if (!h.emitBucket.take()) return E.OSZ_E_RATE_LIMITED;
      h.request('bus.emit', { type, data }, { kind: 'note', what: `emit ${type}` });
      return 0;
    },
    now_ms: (): number => Date.now(),
    hal_read: (typePtr: number, typeLen: number, outPtr: number): number => {
      const type = text(typePtr, typeLen, 128);
      if (type === undefined) return E.OSZ_E_INVALID_PARAMS;
      const mirror = h.mirror;
      if (!mirror) return E.HAL_E_UNAVAILABLE;
      if (!mirror.has(type)) return E.HAL_E_UNKNOWN_DEVICE;
      if (!g.sensors.includes(type)) {
        h.note(`hal_read "${type}" denied: grant it in capabilities.hal.sensors`);
        return E.HAL_E_DENIED;
      }
      const r = mirror.read(type);
      if (!r) return E.HAL_E_BUSY;
      try {
        const dv = h.memory().checked(outPtr, 16);
        dv.setFloat64(outPtr >>> 0, r.value, true);
        dv.setFloat64((outPtr >>> 0) + 8, r.ts, true);
      } catch {
        return E.OSZ_E_INVALID_PARAMS;
      }
      return 0;
    },
    hal_actuate: (devPtr: number, devLen: number, cmdPtr: number, cmdLen: number): number => {
      const deviceId = text(devPtr, devLen, 128);
      const command = text(cmdPtr, cmdLen, 256);
      if (!deviceId || command === undefined) return E.OSZ_E_INVALID_PARAMS;
      // A denial still goes to the HAL, which audits it; the guest learns it at once.
      if (!g.actuators.includes(deviceId)) {
        if (h.pendingCount() < MAX_PENDING && h.emitBucket.take()) h.request('hal.actuate', { deviceId, command }, { kind: 'audit' });
        return E.HAL_E_DENIED;
      }
      return halRequest('hal.actuate', deviceId, { command });
    },
    camera_frame: (devPtr: number, devLen: number): number => {
      const deviceId = text(devPtr, devLen, 128);
      if (!deviceId) return E.OSZ_E_INVALID_PARAMS;
      if (!g.cameras.includes(deviceId)) return E.HAL_E_DENIED;
      return halRequest('hal.camera', deviceId, {});
    },
    timer_set: (namePtr: number, nameLen: number, ms: number, repeat: number): number => {
      const name = text(namePtr, nameLen, 64);
      if (name === undefined || !TIMER_NAME.test(name)) return E.OSZ_E_INVALID_PARAMS;
      if (ms < MIN_TIMER_MS || ms > MAX_TIMER_MS) return E.OSZ_E_TIMER_LIMIT;
      // At most MAX_PENDING unanswered: answers are read between calls, so one call into the guest
      // can post no more than that, however it loops (issue 16). Not the emit bucket: a guest that
      // emitted up to its rate can still set the timer that reports it.
      if (h.pendingCount() >= MAX_PENDING) return E.OSZ_E_RATE_LIMITED;
      h.request('timer.set', { name, ms, repeat: repeat !== 0 }, { kind: 'note', what: `timer_set ${name}` });
      return 0;
    },
    timer_clear: (namePtr: number, nameLen: number): number => {
      const name = text(namePtr, nameLen, 64);
      if (name === undefined || !TIMER_NAME.test(name)) return E.OSZ_E_INVALID_PARAMS;
      // At most MAX_PENDING unanswered: answers are read between calls, so one call into the guest
      // can post no more than that, however it loops (issue 16). Not the emit bucket: a guest that
      // emitted up to its rate can still set the timer that reports it.
      if (h.pendingCount() >= MAX_PENDING) return E.OSZ_E_RATE_LIMITED;
      h.request('timer.clear', { name }, { kind: 'note', what: `timer_clear ${name}` });
      return 0;
    },
    tokens: (n: number): void => {
      if (n > 0) h.tokens(n >>> 0);
    },
    // ABI v2: the event that woke the instance. Its length, copied to out when out_len holds it
    // (a guest asks with (0, 0) first, allocates, and asks again); 0 when no rule spawned it.
    trigger: (outPtr: number, outLen: number): number => {
      const t = h.trigger;
      if (!t) return 0;
      if (outLen >>> 0 < t.length) return t.length;
      try {
        h.memory().write(outPtr, t);
      } catch {
        return E.OSZ_E_INVALID_PARAMS;
      }
      return t.length;
    },
    snapshot_set: (ptr: number, len: number): number => {
      const json = text(ptr, len, MAX_SNAPSHOT_BYTES);
      if (json === undefined) return E.OSZ_E_INVALID_PARAMS;
      try {
        JSON.parse(json);
      } catch {
        return E.OSZ_E_INVALID_PARAMS;
      }
      h.setSnapshot(json);
      return 0;
    },
  };
}
