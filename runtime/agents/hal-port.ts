/**
 * What agent sessions need from the HAL, and the adapter onto the HAL facade (hal/hal.ts). The
 * caller's identity and grants come from the session (the channel), never from the agent's
 * words. Boards without a HAL backend in this build get `unavailableHal`, which answers every
 * hardware request with HAL_E_UNAVAILABLE.
 */
import type { Hal } from '../../hal/hal';
import type { SensorReading } from '../../hal/reading';
import { OszError } from '../errors';

export type { SensorReading };

export interface HalCaller {
  agentId: string;
  instance: string;
  grants: { sensors: readonly string[]; actuators: readonly string[]; cameras: readonly string[] };
}

export interface AgentHalPort {
  read(caller: HalCaller, sensorType: string): Promise<SensorReading>;
  actuate(caller: HalCaller, deviceId: string, command: unknown): Promise<void>;
  /** the latest still of a granted camera, as base64 JPEG (frame streams to agents come later) */
  camera(caller: HalCaller, deviceId: string): Promise<{ deviceId: string; jpeg: string; ts: number }>;
  /** the instance ended: return its actuators to their safe state and drop its leases */
  releaseInstance(instance: string): Promise<void>;
}

const unavailable = (what: string): Promise<never> =>
  Promise.reject(new OszError('HAL_E_UNAVAILABLE', `${what}: this daemon has no HAL backend for this board yet`));

export const unavailableHal: AgentHalPort = {
  read: (_c, sensorType) => unavailable(`hal.read ${sensorType}`),
  actuate: (_c, deviceId) => unavailable(`hal.actuate ${deviceId}`),
  camera: (_c, deviceId) => unavailable(`hal.camera ${deviceId}`),
  releaseInstance: () => Promise.resolve(),
};

export function halPort(hal: Hal): AgentHalPort {
  const asAgent = (c: HalCaller) => ({ kind: 'agent' as const, agentId: c.agentId, instance: c.instance, grants: c.grants });
  return {
    read: (c, sensorType) => hal.getSensorReading(sensorType, asAgent(c)),
    actuate: (c, deviceId, command) => hal.controlActuator(deviceId, command, asAgent(c)),
    camera: async (c, deviceId) => {
      const still = await hal.getCameraStill(deviceId, asAgent(c));
      return { deviceId, jpeg: still.jpeg.toString('base64'), ts: still.ts };
    },
    releaseInstance: (instance) => hal.releaseInstance(instance),
  };
}
