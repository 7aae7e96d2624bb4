/**
 * Who an HTTP request is (DESIGN §12.7): the bearer token in `Authorization` (never in a URL,
 * compared in constant time) makes it an admin, like a holder of the control socket's token;
 * without one it is a viewer, which may read the dashboard without agents' snapshots, but not
 * logs, snapshots or anything that changes state. A wrong token is refused outright, not
 * quietly downgraded. Both are decided from the headers alone, before any body is read (issue 16):
 * what a viewer may not call is refused 401 without its body ever being kept. The connection a
 * request with the token came on is vouched for (gate.ts): no anonymous flood can close it.
 */
import type http from 'node:http';
import { type Operation, type Role, ROLE_RANK } from '../control/op';
import { OszError } from '../errors';
import { vouch } from './gate';
import { sendJson } from './server';
import { tokensEqual } from '../control/token';

export interface HttpIdentity {
  role: Role;
  /** true when the request carried the right token */
  authed: boolean;
  actor: string;
}

export function identify(req: http.IncomingMessage, token: string): HttpIdentity {
  const actor = `http:${req.socket.remoteAddress ?? '?'}`;
  const header = req.headers.authorization;
  if (header === undefined) return { role: 'viewer', authed: false, actor };
  const m = /^Bearer ([A-Za-z0-9_~+/.=-]{1,512})$/.exec(header);
  if (!m || !tokensEqual(m[1], token)) throw new OszError('OSZ_E_UNAUTHORIZED', 'the bearer token is wrong; it is the content of control.token beside the control socket (or http.tokenFile)', { status: 401 });
  vouch(req.socket);
  return { role: 'admin', authed: true, actor };
}

/**
 * Operations whose results are bus events: the event log is every agent's and subsystem's traffic,
 * so without the token it is served only when `http.anonymousEvents` says so (an agent's
 * `capabilities.events.subscribe` would mean nothing if any local process could read them all).
 */
const EVENT_READS: ReadonlySet<string> = new Set(['events.tail']);

/** Throws 401 for what a request without the token may not call; decided before its body is read. */
export function admitAnonymous(op: Operation, who: HttpIdentity, anonymousEvents: boolean): void {
  if (who.authed) return;
  if (ROLE_RANK[op.role] > ROLE_RANK.viewer) throw new OszError('OSZ_E_UNAUTHORIZED', `${op.name} needs the bearer token (Authorization: Bearer <token>)`, { status: 401 });
  if (EVENT_READS.has(op.name) && !anonymousEvents) throw new OszError('OSZ_E_UNAUTHORIZED', `${op.name} carries bus events: send the bearer token, or set http.anonymousEvents`, { status: 401 });
}

/** the HTTP status of an error code */
export function statusOf(code: string, details?: Record<string, unknown>): number {
  if (typeof details?.status === 'number') return details.status;
  if (code === 'OSZ_E_UNAUTHORIZED') return 401;
  if (code === 'OSZ_E_FORBIDDEN') return 403;
  if (code === 'OSZ_E_UNKNOWN_OPERATION' || /^OSZ_E_NO_SUCH_[A-Z]+$/.test(code) || code === 'HAL_E_UNKNOWN_DEVICE') return 404;
  if (code === 'OSZ_E_REQUEST_TOO_LARGE') return 413;
  if (code === 'OSZ_E_REQUEST_TIMEOUT') return 408;
  if (code === 'OSZ_E_HTTP_BUSY') return 503;
  if (['OSZ_E_ETAG_MISMATCH', 'OSZ_E_SINGLETON_RUNNING', 'OSZ_E_AGENT_IN_USE', 'OSZ_E_PLUGIN_IN_USE'].includes(code)) return 409;
  if (code === 'OSZ_E_INTERNAL') return 500;
  if (['OSZ_E_DRIVER_UNAVAILABLE', 'OSZ_E_STORE_IO', 'OSZ_E_DOCKER', 'HAL_E_BUS_IO', 'HAL_E_BUSY'].includes(code)) return 503;
  if (code === 'HAL_E_NOT_OWNER' || code === 'HAL_E_INTERLOCK') return 409;
  if (code === 'HAL_E_DENIED') return 403;
  if (code === 'HAL_E_RATE_LIMIT' || code === 'OSZ_E_RATE_LIMITED') return 429;
  return 400;
}

/** answers with an error's code, message and hint, at the status its code calls for */
export function sendError(res: http.ServerResponse, e: OszError): void {
  sendJson(res, statusOf(e.code, e.details), { error: { code: e.code, message: e.message, hint: e.hint } });
}
