import { afterEach, describe, expect, it } from 'vitest'
import { TestCluster, eventually } from '../helpers/nodes.js'

describe('registry hub (in-process nodes)', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('a dependent registered before its provider is told when the provider appears, and when it stops', async () => {
    const registry = await cluster.registry()
    const demo = await cluster.service(registry, 'demo', ['log'])
    const degraded = await cluster.waitFor(demo, e => e.event === 'registered')
    expect(degraded).toMatchObject({ missing: ['log'] })

    const log = await cluster.service(registry, 'log')
    const up = await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    expect(up).toMatchObject({ peerId: log.peerId, via: 'hub' })

    await log.stop()
    const down = await cluster.waitFor(demo, e => e.event === 'provider-down' && e.name === 'log')
    expect(down).toMatchObject({ peerId: log.peerId, reason: 'left' })
  })

  it('a dependent registered after its provider knows it from the register answer', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    await cluster.waitFor(log, e => e.event === 'registered')
    const demo = await cluster.service(registry, 'demo', ['log'])
    const reg = await cluster.waitFor(demo, e => e.event === 'registered')
    expect(reg).toMatchObject({ missing: [], providers: [{ name: 'log', peerId: log.peerId, status: 'up' }] })
    expect(demo.catalog.providersOf('log').map(r => r.peerId)).toEqual([log.peerId])
  })

  it('lists every registration with its liveness figures', async () => {
    const registry = await cluster.registry()
    const a = await cluster.service(registry, 'alpha')
    const b = await cluster.service(registry, 'beta', ['alpha'])
    await eventually(() => {
      const list = registry.registry!.list()
      expect(list.services.map(s => s.name).sort()).toEqual(['alpha', 'beta'])
      expect(list.services.every(s => s.status === 'up' && s.rttMs !== undefined)).toBe(true)
    })
    expect(registry.registry!.list().services.find(s => s.name === 'beta')).toMatchObject({ peerId: b.peerId, requires: ['alpha'] })
    expect(a.peerId).not.toEqual(b.peerId)
  })
})
