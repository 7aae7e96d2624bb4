/** What operations may use: the subsystems the composition root hands to the control plane. */
import type { Installer } from '../agents/install';
import type { Supervisor } from '../agents/supervisor';
import type { EventBus } from '../bus/bus';
import type { Hal } from '../../hal/hal';
import type { DoctorCheck } from '../doctor';
import type { Logger } from '../log';
import type { Store } from '../store/store';
import type { LazyRules } from '../rules/lazy';
import type { Projector } from '../dashboard/projector';
import type { IssuerPut, IssuerView } from '../fleet/issuers';

export interface SubsystemHealth {
  name: string;
  state: 'ok' | 'degraded' | 'down' | 'disabled';
  detail?: string;
}

export interface DaemonInfo {
  version: string;
  pid: number;
  startedAt: number;
  home: string;
  board: string;
  socket: string;
  http: string | undefined;
  deviceId: string | undefined;
  node: string;
  sandbox: { permissionFlag: string; separateUid: boolean; setpriv: string | undefined };
  /** host figures from the HAL's platform layer (CPU since the previous sample) */
  host?: import('../../hal/platform/host').HostFigures;
  /** WASM cells: threads, guests in them, watchdog restarts, compiled modules, V8's trap handler */
  wasm?: { cells: number; guests: number; restarts: number; modules: number; trapHandler: boolean };
  /** the effective config with secrets redacted */
  config: unknown;
}

/** What the control plane may ask of the fleet link (runtime/fleet/link.ts). */
export interface FleetControl {
  rebirth(): Promise<void>;
  issuers(): IssuerView[];
  putIssuer(p: IssuerPut, by: string): IssuerView | { id: string; revoked: true };
}

export interface ControlServices {
  /** docker: the image id of a reference (pulling when allowed); absent when docker is off */
  imageId?: (ref: string) => Promise<string>;
  /** docker: refuses a runtime.user that runs as uid or gid 0 in that image; absent when docker is off */
  checkDockerUser?: (user: string, image: string) => Promise<void>;
  store: Store;
  supervisor: Supervisor;
  installer: Installer;
  bus: EventBus;
  log: Logger;
  info(): DaemonInfo;
  health(): SubsystemHealth[];
  /** loaded on first use: doctor is rare, the daemon idles for months (DESIGN §12.13) */
  doctor(): Promise<DoctorCheck[]>;
  /** the HAL facade, when this board has a backend */
  hal: Hal | undefined;
  /** the rule engine, once its step has started */
  rules?: LazyRules;
  /** the fleet link, when fleet.broker is set */
  fleet?: FleetControl;
  /** the dashboard model's projector, once its step has started */
  dashboard?: Projector;
  /** the daemon's own log level */
  setDaemonLogLevel(level: 'debug' | 'info' | 'warn' | 'error'): void;
}
