/** daemon.rebirth, issuers.list and issuers.put (DESIGN §12.15): the fleet link's own operations. */
import * as z from 'zod';
import { OszError } from '../../errors';
import { defineOp } from '../op';
import type { FleetControl } from '../services';

function requireFleet(f: FleetControl | undefined): FleetControl {
  if (!f) throw new OszError('OSZ_E_DRIVER_UNAVAILABLE', 'this daemon has no fleet link (set fleet.broker)');
  return f;
}

export const fleetOps = [
  defineOp({
    name: 'daemon.rebirth',
    summary: 'publish the birth and every state section again, whether they changed or not',
    params: z.strictObject({}),
    role: 'operator',
    mutating: false,
    remote: true,
    handler: async (_p, { services }) => {
      await requireFleet(services.fleet).rebirth();
      return { ok: true };
    },
  }),
  defineOp({
    name: 'issuers.list',
    summary: 'the issuers whose signed commands this device accepts: id, role, key fingerprint',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => requireFleet(services.fleet).issuers(),
  }),
  defineOp({
    name: 'issuers.put',
    summary: 'add an issuer, give one a new key or role, or revoke one (at least one admin remains); durable before it answers',
    params: z
      .strictObject({
        id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an id of 1-64 letters, digits, _ . and -'),
        publicKey: z.string().max(4096).optional().describe('Ed25519 public key: PEM, or its 32 raw bytes in base64'),
        role: z.enum(['viewer', 'operator', 'admin']).optional(),
        revoke: z.boolean().optional(),
      })
      .refine((p) => !(p.revoke && (p.publicKey !== undefined || p.role !== undefined)), { message: 'revoke takes no publicKey or role' }),
    role: 'admin',
    mutating: true,
    remote: true,
    handler: (p, { services, caller }) => requireFleet(services.fleet).putIssuer(p, caller.actor),
  }),
];
