/**
 * BME280 compensation, in double precision as in the Bosch datasheet (BST-BME280-DS002,
 * section 4.2.3 and appendix 8.1). Shared by the driver (raw → physical) and the simulator,
 * which inverts it by bisection to produce raw readings for a wanted environment.
 */
export interface Bme280Calibration {
  T1: number; T2: number; T3: number;
  P1: number; P2: number; P3: number; P4: number; P5: number; P6: number; P7: number; P8: number; P9: number;
  H1: number; H2: number; H3: number; H4: number; H5: number; H6: number;
}

/** Returns °C and t_fine, which pressure and humidity need. */
export function compensateTemperature(adcT: number, c: Bme280Calibration): { celsius: number; tFine: number } {
  const var1 = (adcT / 16384 - c.T1 / 1024) * c.T2;
  const d = adcT / 131072 - c.T1 / 8192;
  const var2 = d * d * c.T3;
  const tFine = var1 + var2;
  return { celsius: tFine / 5120, tFine };
}

/** Pascal. */
export function compensatePressure(adcP: number, tFine: number, c: Bme280Calibration): number {
  let var1 = tFine / 2 - 64000;
  let var2 = (var1 * var1 * c.P6) / 32768;
  var2 = var2 + var1 * c.P5 * 2;
  var2 = var2 / 4 + c.P4 * 65536;
  var1 = ((c.P3 * var1 * var1) / 524288 + c.P2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * c.P1;
  if (var1 === 0) return 0; // the datasheet's guard against division by zero
  let p = 1048576 - adcP;
  p = ((p - var2 / 4096) * 6250) / var1;
  var1 = (c.P9 * p * p) / 2147483648;
  var2 = (p * c.P8) / 32768;
  return p + (var1 + var2 + c.P7) / 16;
}

/** %RH, clamped to 0..100 as the datasheet does. */
export function compensateHumidity(adcH: number, tFine: number, c: Bme280Calibration): number {
  let h = tFine - 76800;
  h = (adcH - (c.H4 * 64 + (c.H5 / 16384) * h)) * ((c.H2 / 65536) * (1 + (c.H6 / 67108864) * h * (1 + (c.H3 / 67108864) * h)));
  h = h * (1 - (c.H1 * h) / 524288);
  return Math.min(100, Math.max(0, h));
}

/** Register image of the calibration (0x88..0xA1 and 0xE1..0xE7), little-endian as on the chip. */
export function encodeCalibration(c: Bme280Calibration): Map<number, number> {
  const regs = new Map<number, number>();
  const u16 = (reg: number, v: number): void => {
    const x = v & 0xffff;
    regs.set(reg, x & 0xff);
    regs.set(reg + 1, x >> 8);
  };
  [c.T1, c.T2, c.T3, c.P1, c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9].forEach((v, i) => u16(0x88 + i * 2, v));
  regs.set(0xa1, c.H1 & 0xff);
  u16(0xe1, c.H2);
  regs.set(0xe3, c.H3 & 0xff);
  regs.set(0xe4, (c.H4 >> 4) & 0xff);
  regs.set(0xe5, ((c.H5 & 0x0f) << 4) | (c.H4 & 0x0f));
  regs.set(0xe6, (c.H5 >> 4) & 0xff);
  regs.set(0xe7, c.H6 & 0xff);
  return regs;
}

/** Parses the calibration from the two register blocks the driver reads. */
export function decodeCalibration(a: Buffer /* 0x88.. 26 bytes */, b: Buffer /* 0xE1.. 7 bytes */): Bme280Calibration {
  const s8 = (v: number): number => (v > 127 ? v - 256 : v);
  const s12 = (v: number): number => (v > 2047 ? v - 4096 : v);
  return {
    T1: a.readUInt16LE(0), T2: a.readInt16LE(2), T3: a.readInt16LE(4),
    P1: a.readUInt16LE(6), P2: a.readInt16LE(8), P3: a.readInt16LE(10), P4: a.readInt16LE(12), P5: a.readInt16LE(14),
    P6: a.readInt16LE(16), P7: a.readInt16LE(18), P8: a.readInt16LE(20), P9: a.readInt16LE(22),
    H1: a.readUInt8(25),
    H2: b.readInt16LE(0), H3: b.readUInt8(2),
    H4: s12(((b.readUInt8(3) << 4) | (b.readUInt8(4) & 0x0f)) & 0xfff),
    H5: s12(((b.readUInt8(5) << 4) | (b.readUInt8(4) >> 4)) & 0xfff),
    H6: s8(b.readUInt8(6)),
  };
}
