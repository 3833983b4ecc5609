import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, runCli } from '../helpers/cli.js'

// `gds status` loads the watch view only under --watch (a lazy import): the live path still works.
describe('gds status --watch (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('--json prints the snapshot, then a change line when a service joins', async () => {
    await cluster.registry()
    await cluster.service('alpha')
    const watch = cluster.follow(['status', '--watch', '--json', '--registry', cluster.registryAddr])
    const snapshot = await watch.waitFor(m => m.type === 'snapshot', 'snapshot', 30_000)
    expect(snapshot.services.map((s: { name: string }) => s.name)).toEqual(['alpha'])
    await cluster.service('beta')
    const change = await watch.waitFor(m => m.type === 'change' && m.record?.name === 'beta', 'change for beta', 30_000)
    expect(change.record.status).toBe('up')
  }, 90_000)

  it('--watch with a filter flag is a usage error: exit 1, one line, nothing on stdout', async () => {
    const r = await runCli(['status', '--watch', '--service', 'alpha', '--registry', '/ip4/127.0.0.1/tcp/9'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/--watch|--service/)
  }, 30_000)
})
