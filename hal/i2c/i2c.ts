/**
 * The I2C bus contract (DESIGN §5): register reads and writes on one bus. Implementations: the
 * simulator (i2c/sim.ts) and, on a Pi, `i2c-bus` over /dev/i2c-N (issue 7). One contract suite
 * (test/contract/i2c.contract.ts) runs against each.
 *
 * Obligations: a device that does not answer rejects with HAL_E_BUS_IO carrying the errno
 * (`EREMOTEIO` for a NACK); reads return exactly `length` bytes; calls after `close()` reject;
 * calls on one bus never interleave (the bus serialises them).
 */
export interface I2cBus {
  readonly name: string;
  readRegisters(address: number, register: number, length: number): Promise<Buffer>;
  writeRegister(address: number, register: number, value: number): Promise<void>;
  close(): Promise<void>;
}

/** A device on a simulated bus, at register level. */
export interface I2cDeviceModel {
  read(register: number): number;
  write(register: number, value: number): void;
}
