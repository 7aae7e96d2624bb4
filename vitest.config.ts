import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start real daemons and agents; two cores are shared, so keep
    // parallelism modest and timeouts generous (nothing asserts wall-clock time).
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env.OPENSTARRY_REPORT ? ['default', ['json', { outputFile: process.env.OPENSTARRY_REPORT }]] : ['default'],
  },
});
