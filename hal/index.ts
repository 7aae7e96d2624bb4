/**
 * The HAL's public face (DESIGN §5): the facade with the seed's interface (getCameraStream,
 * getSensorData, controlActuator) and what callers need to build and use it.
 */
export { Hal, type HalBackends, type HalDeviceInfo, type CameraStill } from './hal';
export { HalError, HAL_ERROR_CODES, type HalErrorCode } from './errors';
export type { AuditSink, HalAuditEntry, HalCaller, HalEventSink, HalGrants } from './ports';
export type { SensorReading } from './reading';
export { loadProfile, detectProfile } from './profile/load';
export type { BoardProfile } from './profile/schema';
export { SensorMirror, MirrorReader, type MirrorLayout } from './mirror';
export { SimBoard } from './sim/board';
