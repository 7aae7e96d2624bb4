/**
 * JSON-RPC 2.0 objects as the control socket and the agent protocol use them (DESIGN §12.2,
 * §12.3). Application errors use code -32000 and carry the stable code and hint in `data`.
 */
import { isErrorCode, OszError, toOszError } from '../errors';

export type Id = string | number;

export interface Request {
  jsonrpc: '2.0';
  id: Id;
  method: string;
  params?: unknown;
}
export interface Notification {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
}
export interface ErrorObject {
  code: number;
  message: string;
  data?: { code: string; hint?: string; details?: Record<string, unknown> };
}
export interface Response {
  jsonrpc: '2.0';
  id: Id | null;
  result?: unknown;
  error?: ErrorObject;
}
export type Message = Request | Notification | Response;

export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  APPLICATION: -32000,
} as const;

export type Classified =
  | { kind: 'request'; msg: Request }
  | { kind: 'notification'; msg: Notification }
  | { kind: 'response'; msg: Response }
  | { kind: 'invalid'; id: Id | null; reason: string };

export const isId = (v: unknown): v is Id => (typeof v === 'string' && v.length <= 128) || (typeof v === 'number' && Number.isFinite(v));

/** Sorts a parsed value into request / notification / response, or says why it is neither. */
export function classify(value: unknown): Classified {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { kind: 'invalid', id: null, reason: 'a JSON-RPC message must be an object' };
  const m = value as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  if (m.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: 'jsonrpc must be "2.0"' };
  if (typeof m.method === 'string') {
    if (m.method.length === 0 || m.method.length > 128) return { kind: 'invalid', id, reason: 'method must be 1-128 characters' };
    if (m.id === undefined) return { kind: 'notification', msg: m as unknown as Notification };
    if (!isId(m.id)) return { kind: 'invalid', id: null, reason: 'id must be a string or number' };
    return { kind: 'request', msg: m as unknown as Request };
  }
  if ('result' in m || 'error' in m) {
    if (m.id !== null && !isId(m.id)) return { kind: 'invalid', id: null, reason: 'response id must be a string, number or null' };
    return { kind: 'response', msg: m as unknown as Response };
  }
  return { kind: 'invalid', id, reason: 'neither a request nor a response' };
}

export function errorResponse(id: Id | null, err: unknown): Response {
  return { jsonrpc: '2.0', id, error: toErrorObject(err) };
}

export function toErrorObject(err: unknown): ErrorObject {
  const e = toOszError(err);
  const code =
    e.code === 'OSZ_E_UNKNOWN_OPERATION' ? RPC.METHOD_NOT_FOUND : e.code === 'OSZ_E_INVALID_PARAMS' ? RPC.INVALID_PARAMS : e.code === 'OSZ_E_INTERNAL' ? RPC.INTERNAL : RPC.APPLICATION;
  return { code, message: e.message, data: { code: e.code, hint: e.hint, ...(e.details ? { details: e.details } : {}) } };
}

/** Rebuilds an OszError from an error object received over the wire. */
export function fromErrorObject(e: ErrorObject): OszError {
  const code = e.data && isErrorCode(e.data.code) ? e.data.code : e.code === RPC.METHOD_NOT_FOUND ? 'OSZ_E_UNKNOWN_OPERATION' : 'OSZ_E_INTERNAL';
  return new OszError(code, e.message, e.data?.details);
}
