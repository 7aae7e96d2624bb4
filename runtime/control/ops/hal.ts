/** hal.* operations (DESIGN §12.15): list the board's devices, read a sensor, set an actuator as the operator. */
import * as z from 'zod';
import { OszError } from '../../errors';
import { defineOp, streaming } from '../op';

const spec = z.string().min(1).max(140);

export const halOps = [
  defineOp({
    name: 'hal.list',
    summary: "the board's devices: sensors with their latest readings, actuators with state and owner",
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => ({ board: services.info().board, devices: requireHal(services.hal).list() }),
  }),
  defineOp({
    name: 'hal.read',
    summary: 'read a sensor type (`temperature`) or a type on a device (`temperature@climate`)',
    params: z.strictObject({ sensor: spec }),
    role: 'viewer',
    mutating: false,
    remote: true,
    handler: (p, { services, caller }) => requireHal(services.hal).getSensorReading(p.sensor, { kind: 'operator', actor: caller.actor }),
  }),
  defineOp({
    name: 'hal.set',
    summary: 'command an actuator as the operator (allow-list, interval and interlocks still apply)',
    params: z.strictObject({ device: spec, command: z.string().min(1).max(64) }),
    role: 'operator',
    mutating: true,
    remote: false,
    handler: async (p, { services, caller }) => {
      const hal = requireHal(services.hal);
      await hal.controlActuator(p.device, p.command, { kind: 'operator', actor: caller.actor });
      return hal.list().find((d) => d.id === p.device);
    },
  }),
  defineOp({
    name: 'hal.record',
    summary: 'stream the HAL\'s readings, edges and actuator changes as trace events (`hal record FILE` writes them)',
    params: z.strictObject({}),
    role: 'operator',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => {
      requireHal(services.hal);
      const started = Date.now();
      const t0 = performance.now();
      return streaming({ board: services.info().board, started }, (send) => {
        const owner = `hal.record:${started}:${Math.random()}`;
        for (const pattern of ['hal:sensor.*', 'hal:gpio.*', 'hal:actuator.*']) {
          services.bus.on(owner, pattern, (e) => send({ t: Math.round(performance.now() - t0), type: e.type, data: e.data }));
        }
        return () => services.bus.removeOwner(owner);
      });
    },
  }),
];

function requireHal<T>(hal: T | undefined): T {
  if (!hal) throw new OszError('HAL_E_UNAVAILABLE', 'this board has no HAL backend in this build (the sim board does)');
  return hal;
}
