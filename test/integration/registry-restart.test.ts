import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { RegistryHub } from '../../src/services/registry/hub.js'
import { MAX_VERSION, providerRecord } from '../../src/node/schemas.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

describe('registry restart', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('reloads its catalogue, services re-register, and patches flow again', async () => {
    const dataDir = await cluster.tempDir()
    const first = await cluster.registry({ dataDir })
    const port = first.addrs[0].split('/')[4]
    const log = await cluster.service(first, 'log')
    const demo = await cluster.service(first, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    const firstId = first.peerId

    await first.stop()
    await cluster.waitFor(demo, e => e.event === 'registry-lost')
    await cluster.waitFor(log, e => e.event === 'registry-lost')
    cluster.clearEvents(demo)
    cluster.clearEvents(log)
    // The services keep the table they have while the registry is away.
    expect(demo.catalog.providersOf('log').map(r => r.status)).toEqual(['up'])

    const second = await cluster.registry({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    expect(second.peerId).toEqual(firstId)
    const loaded = await cluster.waitFor(second, e => e.event === 'catalog-loaded')
    expect(loaded).toMatchObject({ entries: 2 })
    await cluster.waitFor(demo, e => e.event === 'registered', 10_000, 'demo re-registered')
    await cluster.waitFor(log, e => e.event === 'registered', 10_000, 'log re-registered')
    await eventually(() => {
      expect(second.registry!.list().services.map(s => `${s.name}:${s.status}`).sort()).toEqual(['demo:up', 'log:up'])
    })

    await log.stop()
    const down = await cluster.waitFor(demo, e => e.event === 'provider-down' && e.name === 'log')
    expect(down).toMatchObject({ reason: 'left' })
    expect(['hub', 'gossip']).toContain((down as any).via)
  })

  it('marks a provider that died while the registry was away as down once it is back', async () => {
    const dataDir = await cluster.tempDir()
    const first = await cluster.registry({ dataDir })
    const port = first.addrs[0].split('/')[4]
    const log = await cluster.service(first, 'log')
    await cluster.waitFor(log, e => e.event === 'registered')
    const logId = log.peerId
    await first.stop()
    // log goes away without a word (it cannot deregister: no registry).
    await log.stop()

    const second = await cluster.registry({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const down = await cluster.waitFor(second, e => e.event === 'provider-down' && e.name === 'log')
    expect(down).toMatchObject({ peerId: logId })
  })

  it('keeps a registration at the highest accepted version through bumps and a restart', async () => {
    const dataDir = await cluster.tempDir()
    const first = await cluster.registry({ dataDir })
    const hub = first.registry as RegistryHub
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const top = { name: 'alpha', addrs: [], requires: [], version: '1', meta: {}, incarnation: MAX_VERSION, seq: MAX_VERSION }
    await hub.handle({ op: 'register', services: [top] }, peerId)
    // Each bump (a changed body, a leave) stays within the record schema.
    await hub.handle({ op: 'register', services: [{ ...top, version: '2' }] }, peerId)
    await hub.handle({ op: 'deregister', names: ['alpha'] }, peerId)
    // Past the ceiling is refused even without the wire schema (a bump would leave the schema).
    await expect(hub.handle({ op: 'register', services: [{ ...top, name: 'beta', seq: Number.MAX_SAFE_INTEGER }] }, peerId)).rejects.toThrow(/seq/)
    const entry = first.catalog.get('alpha', peerId)
    expect(entry).toMatchObject({ status: 'leaving' })
    expect(providerRecord.safeParse(entry).success).toBe(true)
    await first.stop()
    const second = await cluster.registry({ dataDir })
    expect(await cluster.waitFor(second, e => e.event === 'catalog-loaded')).toMatchObject({ entries: 1 })
    expect(second.registry!.list().services.map(s => `${s.name}:${s.status}`)).toEqual(['alpha:leaving'])
  })
})
