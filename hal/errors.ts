/**
 * The HAL's stable error codes (DESIGN §5). The runtime's registry (runtime/errors.ts) includes
 * these, so they cross every transport unchanged; the HAL itself imports nothing from runtime/.
 */
export const HAL_ERROR_CODES = {
  HAL_E_UNAVAILABLE: 'This daemon has no HAL backend for this request.',
  HAL_E_PROFILE: 'Fix the board profile as the message says (docs/board-profile.md); the daemon does not start on a broken profile.',
  HAL_E_DENIED: "Grant it in the agent's manifest: capabilities.hal.sensors / actuators / cameras.",
  HAL_E_UNKNOWN_DEVICE: '`openstarryctl hal ls` lists the devices and sensor types of this board.',
  HAL_E_COMMAND_NOT_ALLOWED: "Use one of the device's commands (`openstarryctl hal ls`).",
  HAL_E_RATE_LIMIT: "The device's minIntervalMs has not passed since the last command; try again later.",
  HAL_E_INTERLOCK: 'Another actuator is in a state that forbids this command; change that one first.',
  HAL_E_BUS_IO: 'The bus did not answer: check wiring, the address, and that the bus is enabled in config.txt.',
  HAL_E_NOT_OWNER: 'Another instance holds this actuator; it is released when that instance stops.',
  HAL_E_BUSY: 'The device is busy with another request; try again.',
} as const;

export type HalErrorCode = keyof typeof HAL_ERROR_CODES;

export class HalError extends Error {
  constructor(
    readonly code: HalErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HalError';
  }
}
