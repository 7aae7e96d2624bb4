/**
 * Bind-mount sources are paths on the engine's host. When the daemon itself runs in a container
 * (balenaOS), its paths are not the host's: each one is translated through the daemon's own
 * container mounts (the engine's `Mounts`: host Source → container Destination).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Mount {
  Source: string;
  Destination: string;
}

/** Maps a path of this process to the engine host's path through the longest matching mount. */
export function hostPathMapper(mounts: readonly Mount[]): (p: string) => string {
  const sorted = [...mounts].filter((m) => m.Source && m.Destination).sort((a, b) => b.Destination.length - a.Destination.length);
  return (p: string): string => {
    const abs = path.resolve(p);
    for (const m of sorted) {
      const dest = m.Destination.replace(/\/+$/, '') || '/';
      if (abs === dest) return m.Source;
      if (abs.startsWith(dest === '/' ? '/' : `${dest}/`)) return path.join(m.Source, path.relative(dest, abs));
    }
    // Not under any mount: the container's own filesystem, which the host cannot bind from.
    throw new Error(`${abs} is not on a volume of the daemon's container; put the daemon's home on a volume`);
  };
}

/** This process's container id, when it runs in one (docker, balena-engine), from /proc/self/mountinfo. */
export function selfContainerId(procRoot = '/proc'): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(procRoot, 'self/mountinfo'), 'utf8');
  } catch {
    return undefined;
  }
  return /\/containers\/([0-9a-f]{64})\/(?:resolv\.conf|hostname|hosts)/.exec(text)?.[1];
}
