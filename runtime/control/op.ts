/**
 * An operation of the control plane (DESIGN §12.2): declared once, with its params schema, role,
 * whether it mutates (then every call is audited) and whether it may be called over MQTT. The
 * control socket, REST, MQTT and the CLI are adapters over these declarations and add no behaviour.
 */
import type { z } from 'zod';
import type { ControlServices } from './services';

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Caller {
  /** who asked: "socket:uid=1000", "http:127.0.0.1", "mqtt:issuer", "rules:<rule>" */
  actor: string;
  role: Role;
  transport: 'socket' | 'http' | 'mqtt' | 'rules' | 'internal';
}

/** A result that keeps flowing after the call returns (logs -f, event tails, watches). */
export interface Streaming<T = unknown> {
  readonly streaming: true;
  initial: unknown;
  /** starts delivery; returns the function that stops it */
  subscribe(send: (item: T) => void): () => void;
}

export function streaming<T>(initial: unknown, subscribe: (send: (item: T) => void) => () => void): Streaming<T> {
  return { streaming: true, initial, subscribe };
}

export function isStreaming(v: unknown): v is Streaming {
  return typeof v === 'object' && v !== null && (v as { streaming?: unknown }).streaming === true;
}

export interface OpContext {
  caller: Caller;
  services: ControlServices;
}

export interface Operation<P extends z.ZodType = z.ZodType> {
  name: string;
  summary: string;
  params: P;
  role: Role;
  mutating: boolean;
  remote: boolean;
  /** names accepted for this operation too (the seed's spawnAgent, killAgent, listAgents) */
  aliases?: readonly string[];
  /** param keys whose values never reach the audit log */
  redact?: readonly string[];
  /** may return a value, a promise of one, or a Streaming */
  handler(params: z.infer<P>, ctx: OpContext): unknown;
}

export function defineOp<P extends z.ZodType>(op: Operation<P>): Operation {
  return op;
}
