/**
 * Remote commands (DESIGN §12.12). A request on `cmd/req/<area.verb>` is
 * `{v: 1, id, issuer, body, sig}`, where `body` is a JSON string
 * `{op, params, device, ts, exp, nonce, replyTo?}` and `sig` the issuer's Ed25519 signature over
 * its exact UTF-8 bytes. `ts` is the issuer's Unix-ms clock, strictly increasing per issuer (it
 * orders commands even before the device's clock is set); `exp` is when the command stops being
 * valid. Replies are `{v: 1, id, ok, result?, error?}`.
 */
import * as z from 'zod';

export const MAX_COMMAND_BYTES = 256 * 1024;

export const requestSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an id of letters, digits, _ . and -'),
  issuer: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  body: z.string().max(MAX_COMMAND_BYTES),
  sig: z.string().max(200),
});

export const bodySchema = z.strictObject({
  op: z.string().regex(/^[a-z]+\.[a-z]+$/),
  params: z.record(z.string(), z.unknown()).default({}),
  device: z.string().min(1).max(64),
  ts: z.number().int().positive(),
  exp: z.number().int().positive(),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  replyTo: z.string().max(256).optional(),
});

export type CommandRequest = z.infer<typeof requestSchema>;
export type CommandBody = z.infer<typeof bodySchema>;

export const replySchema = z.strictObject({
  v: z.literal(1),
  id: z.string().describe('the request\'s id ("" when the request had none that could be read)'),
  ok: z.boolean(),
  result: z.unknown().optional().describe('the operation\'s result (docs/operations.md)'),
  error: z.strictObject({ code: z.string(), message: z.string(), hint: z.string().optional() }).optional().describe('a stable code (docs/errors.md), a message and a hint'),
});

export type CommandReply = z.infer<typeof replySchema>;
