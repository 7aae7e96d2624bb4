/**
 * The checks of a remote command, in the order of DESIGN §12.12: size → parse → schema → device id
 * → signature → (a redelivery answered from the reply cache) → expiry → validity (exp - ts) →
 * clock skew → counter → nonce → role. Nothing is written before the signature holds; the caller
 * records the counter and nonce of a command that passed (`accept`) and runs it through the
 * control plane. A refusal before the signature names its `noise` kind (the caller counts those
 * and logs them rate-limited); a verdict after it may carry `reset`: the issuer's stored counter is
 * further ahead of a synchronised clock than any command may be, and the caller forgets it (it was
 * taken while the clock was unset), so one command dated years ahead cannot lock an issuer out.
 */
import type crypto from 'node:crypto';
import { type Role, ROLE_RANK } from '../control/op';
import type { ErrorCode } from '../errors';
import { bodySchema, type CommandBody, type CommandReply, type CommandRequest, MAX_COMMAND_BYTES, requestSchema } from './command';
import { verifyBody } from './keys';
import type { NoiseKind } from './noise';

export interface Issuer {
  key: crypto.KeyObject;
  role: Role;
}

export interface VerifyDeps {
  self: string;
  issuers: { get(id: string): Issuer | undefined };
  /** the operation's role, whether it may be called remotely and whether it changes state (unsaid: it does), or undefined when unknown */
  opInfo(op: string): { role: Role; remote: boolean; mutating?: boolean } | undefined;
  lastTs(issuer: string): number | undefined;
  nonceSeen(issuer: string, nonce: string): boolean;
  cached(issuer: string, id: string): CommandReply | undefined;
  now(): number;
  /** whether now() has been set from a time source (runtime/fleet/clock.ts); before that, no skew check */
  synced(): boolean;
  limits: { maxClockSkewMs: number; maxCommandTtlMs: number };
}

export type Verdict =
  | { kind: 'refused'; code: ErrorCode; message: string; id?: string; issuer?: string; signed: boolean; noise?: NoiseKind; reset?: number }
  | { kind: 'cached'; reply: CommandReply; issuer: string }
  | { kind: 'run'; request: CommandRequest; body: CommandBody; role: Role; mutating: boolean; reset?: number };

export function checkCommand(raw: Buffer, topicOp: string, d: VerifyDeps): Verdict {
  const refuse = (code: ErrorCode, message: string, extra: { id?: string; issuer?: string; signed?: boolean; reset?: number } = {}): Verdict => ({ kind: 'refused', code, message, signed: false, ...extra });
  const noise = (kind: NoiseKind, code: ErrorCode, message: string, extra: { id?: string; issuer?: string } = {}): Verdict => ({ kind: 'refused', code, message, signed: false, noise: kind, ...extra });
  if (raw.length > MAX_COMMAND_BYTES) return noise('oversize', 'OSZ_E_REQUEST_TOO_LARGE', `a command is at most ${MAX_COMMAND_BYTES} bytes, this is ${raw.length}`);
  let outer: unknown;
  try {
    outer = JSON.parse(raw.toString('utf8'));
  } catch {
    return noise('unparseable', 'OSZ_E_INVALID_PARAMS', 'the command is not JSON');
  }
  const req = requestSchema.safeParse(outer);
  const idOf = (): string | undefined => {
    const id = (outer as { id?: unknown } | null)?.id;
    return typeof id === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(id) ? id : undefined;
  };
  if (!req.success) {
    const id = idOf();
    return noise('unparseable', 'OSZ_E_INVALID_PARAMS', `not a command: ${req.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; ')}`, id ? { id } : {});
  }
  const { id, issuer } = req.data;
  let inner: unknown;
  try {
    inner = JSON.parse(req.data.body);
  } catch {
    return noise('unparseable', 'OSZ_E_INVALID_PARAMS', 'body is not a JSON string', { id, issuer });
  }
  const body = bodySchema.safeParse(inner);
  if (!body.success) return noise('unparseable', 'OSZ_E_INVALID_PARAMS', `body: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`, { id, issuer });
  const b = body.data;
  if (b.op !== topicOp) return noise('misdirected', 'OSZ_E_INVALID_PARAMS', `the body asks for ${b.op} on the topic of ${topicOp}`, { id, issuer });
  if (b.device !== d.self) return noise('misdirected', 'OSZ_E_WRONG_DEVICE', `the command is for device ${b.device.slice(0, 64)}, this is ${d.self}`, { id, issuer });
  const known = d.issuers.get(issuer);
  if (!known) return noise('unsigned', 'OSZ_E_BAD_SIGNATURE', `issuer ${issuer} is not in fleet.issuers`, { id, issuer });
  if (!verifyBody(req.data.body, req.data.sig, known.key)) return noise('bad-signature', 'OSZ_E_BAD_SIGNATURE', 'the signature does not verify', { id, issuer });
  // signed from here on
  const cached = d.cached(issuer, id);
  if (cached) return { kind: 'cached', reply: cached, issuer };
  const now = d.now();
  const synced = d.synced();
  const { maxClockSkewMs, maxCommandTtlMs } = d.limits;
  const stored = d.lastTs(issuer);
  // a counter no honest command could have set under this clock: taken before the clock was set
  const reset = synced && stored !== undefined && stored > now + maxClockSkewMs ? stored : undefined;
  const last = reset === undefined ? stored : undefined;
  const signed = { id, issuer, signed: true, ...(reset !== undefined ? { reset } : {}) };
  if (b.exp <= now) return refuse('OSZ_E_EXPIRED', `the command expired ${Math.round((now - b.exp) / 1000)} s ago`, signed);
  if (b.exp - b.ts > maxCommandTtlMs) return refuse('OSZ_E_COMMAND_TTL', `the command is valid for ${Math.round((b.exp - b.ts) / 1000)} s (exp - ts); at most ${maxCommandTtlMs / 1000} s are accepted (fleet.maxCommandTtlMs)`, signed);
  if (synced && b.ts > now + maxClockSkewMs) return refuse('OSZ_E_CLOCK_SKEW', `ts ${b.ts} is ${Math.round((b.ts - now) / 1000)} s ahead of this device's synchronised clock; at most ${maxClockSkewMs / 1000} s are accepted (fleet.maxClockSkewMs)`, signed);
  if (last !== undefined && b.ts <= last) return refuse('OSZ_E_REPLAYED', `ts ${b.ts} is not after the last one accepted from ${issuer} (${last})`, signed);
  if (d.nonceSeen(issuer, b.nonce)) return refuse('OSZ_E_REPLAYED', `nonce ${b.nonce} was already used`, signed);
  const op = d.opInfo(b.op);
  if (!op) return refuse('OSZ_E_UNKNOWN_OPERATION', `no operation ${b.op}`, signed);
  if (!op.remote) return refuse('OSZ_E_FORBIDDEN', `${b.op} cannot be called over MQTT`, signed);
  if (ROLE_RANK[known.role] < ROLE_RANK[op.role]) return refuse('OSZ_E_FORBIDDEN', `${b.op} needs the ${op.role} role; issuer ${issuer} is ${known.role}`, signed);
  return { kind: 'run', request: req.data, body: b, role: known.role, mutating: op.mutating !== false, ...(reset !== undefined ? { reset } : {}) };
}
