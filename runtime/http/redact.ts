/**
 * What a request without the token may see of the dashboard (DESIGN §12.7): everything but the
 * agents' snapshots, which are the agents' own state and need the token even on loopback.
 */
import type { Dashboard, Section } from '../dashboard/model';

export function publicSection(s: Section): Section {
  if (s.name !== 'agents') return s;
  const value = s.value as Section<'agents'>['value'];
  return { ...s, value: { instances: value.instances.map(({ snapshotError: _e, ...i }) => ({ ...i, snapshot: null, snapshotAt: null })) } };
}

export function publicDashboard(d: Dashboard): Dashboard {
  const out: Dashboard = {};
  for (const s of Object.values(d) as Section[]) (out as Record<string, Section>)[s.name] = publicSection(s);
  return out;
}
