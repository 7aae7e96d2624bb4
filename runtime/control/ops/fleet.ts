/** daemon.rebirth and issuers.list (DESIGN §12.15): the fleet link's own operations. */
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
];
