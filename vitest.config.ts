import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    setupFiles: ['test/setup.ts'],
    // Cluster tests start real processes; their own deadlines are tighter than these caps.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2 cores in CI: cluster files run one at a time (see test/cluster), the rest in parallel.
    maxWorkers: 2,
    reporters: ['default', './test/summary-reporter.ts']
  }
})
