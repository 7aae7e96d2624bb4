/**
 * What agent sessions need from the HAL. Until the HAL lands (issue 4) the daemon wires
 * `unavailableHal`, which answers every hardware request with HAL_E_UNAVAILABLE; the shape is
 * the one the HAL facade will fill (grants come from the caller's manifest).
 */
import { OszError } from '../errors';

export interface HalCaller {
  agentId: string;
  instance: string;
  grants: { sensors: readonly string[]; actuators: readonly string[]; cameras: readonly string[] };
}

export interface SensorReading {
  value: number;
  unit: string;
  ts: number;
  deviceId: string;
}

export interface AgentHalPort {
  read(caller: HalCaller, sensorType: string): Promise<SensorReading>;
  actuate(caller: HalCaller, deviceId: string, command: unknown): Promise<void>;
  camera(caller: HalCaller, deviceId: string): Promise<{ subscription: string }>;
  /** the instance ended: return its actuators to their safe state and drop its leases */
  releaseInstance(instance: string): Promise<void>;
}

const unavailable = (what: string): Promise<never> =>
  Promise.reject(new OszError('HAL_E_UNAVAILABLE', `${what}: this daemon has no HAL backend yet`));

export const unavailableHal: AgentHalPort = {
  read: (_c, sensorType) => unavailable(`hal.read ${sensorType}`),
  actuate: (_c, deviceId) => unavailable(`hal.actuate ${deviceId}`),
  camera: (_c, deviceId) => unavailable(`hal.camera ${deviceId}`),
  releaseInstance: () => Promise.resolve(),
};
