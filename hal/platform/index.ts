/** The platform layer of the HAL: a system root, GPIO chips by label, buses, host figures. */
export { SysRoot } from './root';
export { type GpioChip, gpioChips, gpioNumber } from './gpio-chips';
export { boardModel, i2cDevice, pwmChip, serialDevice } from './buses';
export { cpuPercent, cpuTimes, disk, type HostFigures, hostSampler, memory, socTemperature, throttling, type Throttling } from './host';
