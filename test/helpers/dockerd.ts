/**
 * A real Docker engine for the docker driver's tests (DESIGN §3), started per test file and
 * stopped after it; the engine and image builders are in docker-engine.ts.
 */
import { afterAll } from 'vitest';
import { type Dockerd, launchDockerd } from './docker-engine';
import { asRoot, hasCommand, type Requirement } from './system';

export { busyboxRootfs, type Dockerd, importImage, nodeRootfs } from './docker-engine';

export const dockerRequirements = (): Requirement[] => [asRoot(), hasCommand('dockerd', 'docker.io'), hasCommand('docker', 'docker.io'), hasCommand('busybox', 'busybox-static')];

const started: Dockerd[] = [];

afterAll(async () => {
  for (const d of started.splice(0)) await d.stop();
});

export async function startDockerd(): Promise<Dockerd> {
  const d = await launchDockerd();
  started.push(d);
  return d;
}
