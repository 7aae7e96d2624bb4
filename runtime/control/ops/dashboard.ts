/** dashboard.* operations (DESIGN §12.8): read the dashboard model, or watch its sections change. */
import * as z from 'zod';
import type { Projector } from '../../dashboard/projector';
import { SECTIONS } from '../../dashboard/model';
import { OszError } from '../../errors';
import { defineOp, streaming } from '../op';

const sections = z.array(z.enum(SECTIONS)).max(SECTIONS.length).optional();

function requireDashboard(p: Projector | undefined): Projector {
  if (!p) throw new OszError('OSZ_E_DRIVER_UNAVAILABLE', 'the dashboard is not running yet');
  return p;
}

export const dashboardOps = [
  defineOp({
    name: 'dashboard.get',
    summary: 'the dashboard model: device, resources, agents (with their snapshots), hal, rules, fleet',
    params: z.strictObject({ sections, refresh: z.boolean().default(false).describe('project a fresh round first') }),
    role: 'viewer',
    mutating: false,
    remote: true,
    handler: async (p, { services }) => {
      const d = requireDashboard(services.dashboard);
      if (p.refresh) await d.project();
      return d.get(p.sections);
    },
  }),
  defineOp({
    name: 'dashboard.watch',
    summary: 'the dashboard model, then each section again whenever it changes',
    params: z.strictObject({ sections }),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (p, { services }) => {
      const d = requireDashboard(services.dashboard);
      const wanted = new Set(p.sections ?? SECTIONS);
      return streaming(d.get(p.sections), (send) => d.watch((changed) => changed.filter((s) => wanted.has(s.name)).forEach((s) => send(s))));
    },
  }),
];
