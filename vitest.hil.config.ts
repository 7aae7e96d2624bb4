// `npm run test:hil` on a real Pi: the hardware-in-the-loop suites (test/hil/*.hil.ts), which the
// default run does not collect. They register only with OPENSTARRY_HIL=1.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/hil/**/*.hil.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 30_000,
  },
});
