import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    // Cluster tests start real processes; their own deadlines are tighter than these caps.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2 cores in CI. The other files run two at a time, then the cluster files one at a time:
    // each starts several processes, and side by side they starve each other's heartbeats and
    // deadlines (test/cluster but pack, on 2 shared cores: 181 s and a timeout two at a time,
    // 165 s and none one at a time).
    maxWorkers: 2,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: [...configDefaults.exclude, 'test/cluster/**'] } },
      { extends: true, test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], fileParallelism: false } }
    ]
  }
})
