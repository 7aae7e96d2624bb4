/**
 * REST over the control plane (DESIGN §12.2, §12.7): `/api/v1/<area>/<verb>` for every operation
 * of the table, generated from it and adding no behaviour. `POST` with a JSON body calls any
 * operation; `GET` with query parameters calls one that changes nothing. The bearer token makes
 * the caller an admin; without it the caller is a viewer, and `dashboard.get` leaves out agents'
 * snapshots. Who may call what is decided from the headers before the body is read (auth.ts), and
 * a body without the token is small. Streaming operations answer with their first batch here;
 * `/api/v1/stream` is live.
 */
import type http from 'node:http';
import type * as z from 'zod';
import { isStreaming, type Operation } from '../control/op';
import type { ControlPlane } from '../control/plane';
import type { Dashboard } from '../dashboard/model';
import { OszError, toOszError } from '../errors';
import { admitAnonymous, identify, sendError } from './auth';
import { type BodyLimits, readBody } from './body';
import { publicDashboard } from './redact';
import { bodyPending, type HttpServer, sendJson } from './server';

/** a request body: rules files are the largest thing sent (1 MiB), JSON-escaped */
export const MAX_REST_BODY = 2 * 1024 * 1024 + 4096;
/** a body without the token: a viewer's params are a few names and numbers */
export const MAX_ANONYMOUS_BODY = 64 * 1024;

export interface RestOptions {
  /** `http.anonymousEvents`: whether a viewer without the token may read the event log */
  anonymousEvents?: boolean;
}

export function registerRest(server: HttpServer, plane: ControlPlane, token: () => string, opts: RestOptions = {}): void {
  server.route('*', '/api/v1/*', async (req, res, url) => {
    try {
      const name = /^\/api\/v1\/([a-z]+)\/([a-z]+)$/i.exec(url.pathname);
      const op = name ? plane.find(`${name[1]}.${name[2]}`) : undefined;
      if (!op || !name) throw new OszError('OSZ_E_UNKNOWN_OPERATION', `no operation at ${url.pathname.slice(0, 200)}; docs/operations.md lists them (/api/v1/<area>/<verb>)`);
      const who = identify(req, token());
      admitAnonymous(op, who, opts.anonymousEvents === true);
      const limits: BodyLimits = who.authed
        ? { maxBytes: MAX_REST_BODY, timeoutMs: server.limits.bodyTimeoutMs, key: 'the REST body cap' }
        : { maxBytes: MAX_ANONYMOUS_BODY, timeoutMs: server.limits.bodyTimeoutMs, key: 'without the token; send it for larger bodies' };
      const params = await paramsOf(req, url, op, limits);
      const result = await plane.call(op.name, params, { actor: who.actor, role: who.role, transport: 'http' });
      const body = isStreaming(result) ? result.initial : result;
      sendJson(res, 200, op.name.startsWith('dashboard.') && !who.authed ? publicDashboard(body as Dashboard) : (body ?? null));
    } catch (err) {
      const e = toOszError(err);
      // A wrong token is audited; a request with no token at all is not (each would be a row on the
      // synchronous=FULL connection: anonymous floods would wear the card and rotate the history away).
      if (e.code === 'OSZ_E_UNAUTHORIZED' && req.headers.authorization !== undefined) plane.recordDenied(`http:${req.socket.remoteAddress ?? '?'}`, url.pathname.slice(0, 200), e.code);
      if (!res.headersSent) sendError(res, e);
    }
  });
}

async function paramsOf(req: http.IncomingMessage, url: URL, op: Operation, limits: BodyLimits): Promise<unknown> {
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    // a cross-site form cannot send application/json without a CORS preflight, which we never allow
    const wrongType = (): OszError => new OszError('OSZ_E_INVALID_PARAMS', `send the params as Content-Type: application/json, not ${type || 'nothing'}`, { status: 415 });
    if (type !== 'application/json' && bodyPending(req)) throw wrongType();
    const raw = await readBody(req, limits);
    if (raw.length === 0) return {};
    if (type !== 'application/json') throw wrongType();
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      throw new OszError('OSZ_E_INVALID_PARAMS', 'the body is not JSON');
    }
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (op.mutating) throw new OszError('OSZ_E_INVALID_PARAMS', `${op.name} changes state: POST it`, { status: 405 });
    return queryParams(url.searchParams, op.params);
  }
  throw new OszError('OSZ_E_INVALID_PARAMS', `${req.method ?? '?'} is not served here: GET or POST`, { status: 405 });
}

/** query string → params, each value typed by the operation's schema (numbers, booleans, lists) */
export function queryParams(q: URLSearchParams, schema: z.ZodType): Record<string, unknown> {
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
  const out: Record<string, unknown> = {};
  for (const key of new Set(q.keys())) {
    const values = q.getAll(key);
    const kind = kindOf(shape[key]);
    if (kind === 'array') out[key] = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
    else if (kind === 'number') out[key] = values.length === 1 && /^-?\d+(\.\d+)?$/.test(values[0] ?? '') ? Number(values[0]) : values;
    else if (kind === 'boolean') out[key] = values[0] === 'true' ? true : values[0] === 'false' ? false : values;
    else if (kind === 'object') out[key] = parseJson(values[0] ?? '', key);
    else out[key] = values.length === 1 ? values[0] : values;
  }
  return out;
}

function kindOf(s: z.ZodType | undefined): string {
  let def = (s as unknown as { _zod?: { def: { type: string; innerType?: z.ZodType } } } | undefined)?._zod?.def;
  while (def && (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) def = (def.innerType as unknown as { _zod: { def: typeof def } })._zod.def;
  if (!def) return 'string';
  return def.type === 'record' ? 'object' : def.type;
}

function parseJson(text: string, key: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new OszError('OSZ_E_INVALID_PARAMS', `${key} must be JSON in the query string`);
  }
}
