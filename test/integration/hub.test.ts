import { afterEach, describe, expect, it } from 'vitest'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { createClientLibp2p } from '../../src/node/libp2p.js'
import { MuxClient } from '../../src/node/mux.js'
import { MAX_REGISTRY_FRAME, MAX_REGISTRY_IN_FLIGHT, REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { suspectResult } from '../../src/node/schemas.js'
import { generateKeyFile } from '../../src/node/identity.js'
import { join } from 'node:path'

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
    expect(up).toMatchObject({ peerId: log.peerId })
    expect(['hub', 'gossip']).toContain((up as any).via)

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
    expect(registry.registry!.list().services.find(s => s.name === 'alpha')).toMatchObject({ peerId: a.peerId, requires: [], load: 0, lastSeen: expect.any(Number) })
  })

  it('crash fast path: a provider whose connections drop without a goodbye is down at once', async () => {
    const registry = await cluster.registry({ heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 500 })
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    // Stop libp2p under the node, skipping the graceful deregistration: what kill -9 looks like.
    await log.p2p.stop()
    // The heartbeat interval is a minute, so only the fast path can explain a quick verdict.
    const down = await cluster.waitFor(demo, e => e.event === 'provider-down' && e.name === 'log', 5_000)
    expect(down).toMatchObject({ reason: 'connection-closed' })
    expect(['hub', 'gossip']).toContain((down as any).via)
  })

  it('suspect(peer) makes the registry probe that peer now', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    await cluster.waitFor(log, e => e.event === 'registered')
    const client = await createClientLibp2p()
    try {
      const addr = registry.p2p.getMultiaddrs()[0]
      const requests = new MuxClient(client, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: MAX_REGISTRY_IN_FLIGHT })
      const ask = async (peerId: string) => requests.request(addr, { op: 'suspect', peerId }, suspectResult)
      expect(await ask(log.peerId)).toEqual({ probing: true })
      expect(await ask(client.peerId.toString())).toEqual({ probing: false })
      // A healthy peer survives the accusation.
      await eventually(() => { expect(registry.catalog.get('log', log.peerId)?.status).toBe('up') })
    } finally {
      await client.stop()
    }
  })

  it('refuses a registry whose identity is not the pinned one, and says so', async () => {
    const registry = await cluster.registry()
    const other = await generateKeyFile(join(await cluster.tempDir(), 'other.key'))
    const addr = registry.addrs[0].replace(/\/p2p\/.*$/, '') + `/p2p/${other.peerId}`
    const demo = await cluster.service(registry, 'demo', [], { registry: addr })
    const retry = await cluster.waitFor(demo, e => e.event === 'registry-retry')
    expect(retry).toMatchObject({ attempt: 1 })
    expect((retry as any).error).toMatch(/peer id|pinned|not the/i)
    expect(registry.catalog.size).toBe(0)
  })
})
