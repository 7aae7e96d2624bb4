/**
 * What a container for one agent instance looks like (DESIGN §3 "Docker driver"), as the body of
 * the Engine API's create call. Pure, so every confinement choice is visible and tested here:
 * no devices and no host /dev, /sys or /proc, no network unless granted, all capabilities
 * dropped, no-new-privileges, read-only root with a small tmpfs /tmp, a non-root user, memory /
 * CPU / pids limits, labels that find it again, and only these mounts:
 *   /run/openstarry          the instance's socket directory (rw)
 *   /opt/openstarry/agent    the install copy (ro)
 *   /opt/openstarry/plugins  registered plugins outside it (ro)
 *   /opt/openstarry/sdk      the Node agent runner (ro)
 *   /data                    the agent's data dir, its only writable place (OPENSTARRY_HOME)
 */
import path from 'node:path';
import type { LaunchSpec } from '../driver';
import { SOCKET_NAME } from './agent-socket';

export const LABEL_HOME = 'org.openstarry.home';
export const LABEL_INSTANCE = 'org.openstarry.instance';
export const LABEL_AGENT = 'org.openstarry.agent';

export interface ContainerInputs {
  spec: LaunchSpec;
  image: string;
  user: string;
  socketDir: string;
  sdkDir: string;
  /** identifies this daemon's containers on a shared engine */
  homeLabel: string;
  /** the engine network a `capabilities.network` grant joins */
  network: string;
  /** this process's paths → the engine host's */
  hostPath(p: string): string;
}

export function containerName(instance: string): string {
  return `openstarry-${instance}`;
}

export function containerBody(i: ContainerInputs): Record<string, unknown> {
  const { spec } = i;
  const m = spec.manifest;
  const binds = [
    `${i.hostPath(i.socketDir)}:/run/openstarry:rw`,
    `${i.hostPath(spec.installDir)}:/opt/openstarry/agent:ro`,
    `${i.hostPath(i.sdkDir)}:/opt/openstarry/sdk:ro`,
    `${i.hostPath(spec.dataDir)}:/data:rw`,
  ];
  for (const p of spec.plugins) {
    if (p.path === spec.installDir || p.path.startsWith(spec.installDir + path.sep)) continue;
    binds.push(`${i.hostPath(p.path)}:/opt/openstarry/plugins/${p.name}:ro`);
  }
  const entry = m.runtime.entry;
  const env: Record<string, string> = {
    ...spec.env,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/data',
    OPENSTARRY_HOME: '/data',
    OPENSTARRY_AGENT_SOCKET: `/run/openstarry/${SOCKET_NAME}`,
  };
  if (entry) env.OPENSTARRY_ENTRY = path.posix.join('/opt/openstarry/agent', entry);
  else delete env.OPENSTARRY_ENTRY;
  const cmd = m.runtime.command ?? (entry ? ['node', '/opt/openstarry/sdk/runner.mjs'] : undefined);
  const memory = m.limits.memoryMb * 1024 * 1024;
  const networked = m.capabilities.network;
  return {
    Image: i.image,
    ...(cmd ? { Cmd: [...cmd, ...m.runtime.args] } : m.runtime.args.length > 0 ? { Cmd: m.runtime.args } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    User: i.user,
    WorkingDir: '/data',
    Labels: { [LABEL_HOME]: i.homeLabel, [LABEL_INSTANCE]: spec.instanceId, [LABEL_AGENT]: spec.agentId },
    NetworkDisabled: !networked,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    HostConfig: {
      Binds: binds,
      NetworkMode: networked ? i.network : 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,noexec,size=16m' },
      Privileged: false,
      Devices: [],
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round((m.limits.cpuPercent / 100) * 1e9),
      PidsLimit: m.limits.pids,
      IpcMode: 'private',
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
    },
  };
}

/** The container user: the manifest's (checked by image-user.ts), else the agent's own uid, else nobody; never root. */
export function containerUser(manifestUser: string | undefined, agentUid: number | undefined, daemonUid: number): string {
  if (manifestUser !== undefined) return manifestUser;
  if (agentUid !== undefined) return `${agentUid}:${agentUid}`;
  return daemonUid === 0 ? '65534:65534' : `${daemonUid}:${process.getgid?.() ?? daemonUid}`;
}

// the rule for `runtime.user` lives with its resolution against the image's files
export { isRootUser } from './image-user';
