import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import { MuxClient } from '../../src/node/mux.js'
import { CATALOG_TOPIC, MAX_NOTIFY_FRAME, MAX_REGISTRY_FRAME, MAX_REQUEST_FRAME, NOTIFY_PROTOCOL, REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { Channel, encodeFrame } from '../../src/node/framing.js'
import { batchOf, newBatchId } from '../../src/node/gossip-id.js'
import type { GdsNode } from '../../src/node/node.js'
import { RegistryClient } from '../../src/node/client.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

async function publish (from: GdsNode, message: unknown): Promise<void> {
  await from.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame(message))
}

/** The batches of the registry patches that reached `node`'s validator (decoded and verified). */
function verifiedBatches (node: GdsNode): string[] {
  const seen: string[] = []
  const { topicValidators } = node.p2p.services.pubsub
  const validate = topicValidators.get(CATALOG_TOPIC)!
  topicValidators.set(CATALOG_TOPIC, async (peer, msg: Message) => {
    const batch = batchOf(msg.data)
    if (batch !== undefined) seen.push(batch)
    return validate(peer, msg)
  })
  return seen
}

describe('the gossip path (gds/catalog/1)', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup () {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    const rogue = await cluster.service(registry, 'rogue')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    await cluster.waitFor(rogue, e => e.event === 'registered')
    // The rogue must be in demo's gossip mesh for the test to mean anything.
    await rogue.p2p.dial(demo.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(rogue.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toContain(demo.peerId) })
    return { registry, log, demo, rogue }
  }

  it('a dependent drops unread the gossip copy of a patch the registry said it delivered; a node it did not tell verifies and applies it', async () => {
    const { registry, log, demo, rogue: bystander } = await setup()
    await eventually(() => { expect(registry.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toEqual(expect.arrayContaining([demo.peerId, bystander.peerId])) })
    const atDemo = verifiedBatches(demo)
    const atBystander = verifiedBatches(bystander)
    const redundant = demo.gossipCounters!.redundant
    const record = demo.catalog.get('log', log.peerId)!
    const change = { ...record, seq: record.seq + 1, status: 'suspect' as const }
    // The hub's frame first (the registry's notifier does this, ahead of the gossip copy by
    // PATCH_DELAY_MS; a loaded machine can reverse them, so the test does not rely on the delay).
    const batch = newBatchId()
    const stream = await registry.p2p.dialProtocol(demo.p2p.peerId, NOTIFY_PROTOCOL)
    await new Channel(stream, MAX_NOTIFY_FRAME).write({ type: 'patch', records: [change], delivered: [batch] })
    await eventually(() => { expect(demo.catalog.get('log', log.peerId)?.seq).toBe(change.seq) })
    await publish(registry, { kind: 'patch', batch, records: [change] })
    // Then a patch of no batch behind it: once demo has that, it had its chance to verify the first.
    const later = { ...change, seq: change.seq + 1 }
    await publish(registry, { kind: 'patch', records: [later] })
    await eventually(() => {
      expect(demo.catalog.get('log', log.peerId)?.seq).toBe(later.seq)
      expect(bystander.catalog.get('log', log.peerId)?.seq).toBe(later.seq)
    })
    expect(atBystander).toContain(batch)
    expect(atDemo).not.toContain(batch)
    expect(demo.gossipCounters!.redundant).toBe(redundant)
  })

  it('a forged claim that a patch was delivered (a notify stream from another peer, a patch of the same batch by someone else) suppresses nothing', async () => {
    const { registry, log, demo, rogue } = await setup()
    const record = demo.catalog.get('log', log.peerId)!
    const batch = newBatchId()
    // The rogue poses as the registry on demo's notify protocol: refused before any record or batch is read.
    const stream = await rogue.p2p.dialProtocol(demo.p2p.getMultiaddrs()[0], NOTIFY_PROTOCOL)
    await new Channel(stream, MAX_NOTIFY_FRAME).write({ type: 'patch', records: [], delivered: [batch] }).catch(() => {})
    await eventually(() => { expect(stream.status).not.toBe('open') })
    // ... and publishes a patch of that batch itself: rejected (not the registry's), and filed under its own id.
    const rejected = demo.gossipCounters!.rejected
    await rogue.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'patch', batch, records: [{ ...record, seq: record.seq + 1, status: 'suspect' }] }))
    await eventually(() => { expect(demo.gossipCounters!.rejected).toBeGreaterThan(rejected) })
    // The registry's own patch of that batch is still verified and applied.
    await registry.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'patch', batch, records: [{ ...record, seq: record.seq + 2, status: 'suspect' }] }))
    await eventually(() => { expect(demo.catalog.get('log', log.peerId)).toMatchObject({ seq: record.seq + 2, status: 'suspect' }) })
  })
  it('ignores a forged "down" about another peer, and counts it', async () => {
    const { log, demo, rogue } = await setup()
    const record = demo.catalog.get('log', log.peerId)!
    const before = demo.gossipCounters!.rejected
    await publish(rogue, { kind: 'patch', records: [{ ...record, status: 'down', seq: record.seq + 100 }] })
    await publish(rogue, { kind: 'announce', records: [{ ...record, status: 'leaving', seq: record.seq + 100 }] })
    await eventually(() => { expect(demo.gossipCounters!.rejected).toBeGreaterThanOrEqual(before + 2) })
    expect(demo.catalog.get('log', log.peerId)?.status).toBe('up')
  })

  it('a flood of invalid gossip from one peer does not stall real changes', async () => {
    const { log, demo, rogue } = await setup()
    const record = demo.catalog.get('log', log.peerId)!
    const before = demo.gossipCounters!.rejected
    const flood = (async () => {
      for (let i = 0; i < 300; i++) await publish(rogue, { kind: 'patch', records: [{ ...record, status: 'down', seq: record.seq + 1000 + i }] })
    })()
    // Meanwhile a real change: the provider leaves, and demo must hear it promptly.
    await log.stop()
    await cluster.waitFor(demo, e => e.event === 'provider-down' && 'peerId' in e && e.peerId === log.peerId, 10_000, 'real change during a flood')
    await flood
    await eventually(() => { expect(demo.gossipCounters!.rejected).toBeGreaterThan(before) })
  })

  it('a replayed old announcement changes nothing', async () => {
    const { log, demo } = await setup()
    const record = demo.catalog.get('log', log.peerId)!
    const before = demo.gossipCounters!.stale
    await publish(log, { kind: 'announce', records: [{ ...record, status: 'leaving', incarnation: record.incarnation - 1 }] })
    await eventually(() => { expect(demo.gossipCounters!.stale).toBe(before + 1) })
    expect(demo.catalog.get('log', log.peerId)).toEqual(record)
  })

  it('the registry\'s one table is fed by registrations only, and an announcement of a name the sender was never granted is applied by no one', async () => {
    const registry = await cluster.registry()
    const demo = await cluster.service(registry, 'demo', ['ghost'])
    const rogue = await cluster.service(registry, 'rogue')
    await cluster.waitFor(rogue, e => e.event === 'registered')
    await rogue.p2p.dial(demo.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(rogue.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toEqual(expect.arrayContaining([demo.peerId, registry.peerId])) })
    const own = registry.catalog.get('rogue', rogue.peerId)!
    const rejected = [registry, demo].map(n => n.gossipCounters!.rejected)
    // A self-announcement of a name the rogue never registered (so holds no grant for).
    await publish(rogue, { kind: 'announce', records: [{ ...own, name: 'ghost', seq: own.seq + 1 }] })
    await eventually(() => {
      expect(registry.gossipCounters!.rejected).toBeGreaterThan(rejected[0])
      expect(demo.gossipCounters!.rejected).toBeGreaterThan(rejected[1])
    })
    expect(demo.catalog.get('ghost', rogue.peerId)).toBeUndefined()
    expect(registry.catalog.get('ghost', rogue.peerId)).toBeUndefined()
    expect(registry.registry!.list().services).toEqual(registry.catalog.all())
  })

  it('rejects malformed messages without disturbing the node', async () => {
    const { demo, rogue } = await setup()
    const before = demo.gossipCounters!.rejected
    await rogue.p2p.services.pubsub.publish(CATALOG_TOPIC, new Uint8Array([1, 2, 3]))
    await publish(rogue, { kind: 'explode' })
    await eventually(() => { expect(demo.gossipCounters!.rejected).toBeGreaterThanOrEqual(before + 2) })
  })

  it('keeps dependency updates flowing with the registry gone; a provider that never registered is heard once the registry is back', async () => {
    const dataDir = await cluster.tempDir()
    const registry = await cluster.registry({ dataDir })
    const port = registry.addrs[0].split('/')[4]
    const registryAddr = pickAddr(registry.addrs)
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    // The mesh is not a star: the provider and its dependent are linked directly.
    await eventually(() => { expect(log.p2p.getPeers().map(String)).toContain(demo.peerId) })
    await registry.stop()
    await cluster.waitFor(demo, e => e.event === 'registry-lost')
    // A second provider joins through demo with the registry away: with no grant it says nothing `up`.
    const log2 = await cluster.service(registry, 'log', [], { registry: registryAddr, bootstrap: [demo.p2p.getMultiaddrs()[0].toString()] })
    await eventually(() => { expect(log2.p2p.getPeers().map(String)).toContain(demo.peerId) })
    // The first provider leaves gracefully: its dependents hear it over gossip.
    await log.stop()
    const down = await cluster.waitFor(demo, e => e.event === 'provider-down' && 'peerId' in e && e.peerId === log.peerId, 10_000, 'log down over gossip')
    expect(down).toMatchObject({ via: 'gossip', reason: 'left' })
    expect(demo.catalog.get('log', log2.peerId)).toBeUndefined()
    // The registry comes back with the same key: log2 registers, is granted, and is heard.
    await cluster.registry({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await cluster.waitFor(log2, e => e.event === 'registered', 10_000, 'log2 registered')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && 'peerId' in e && e.peerId === log2.peerId, 10_000, 'log2 up')
    expect(demo.catalog.providersOf('log').filter(p => p.status === 'up').map(p => p.peerId)).toEqual([log2.peerId])
  })

  it('a late provider that requires nothing is linked by the mesh seed in its register answer, so its leave is heard with the registry gone', async () => {
    const registry = await cluster.registry()
    // The dependents dial no one: only the provider's mesh keeper can link them to it.
    const deps = [await cluster.service(registry, 'a', ['log'], { meshDegree: 0 }), await cluster.service(registry, 'b', ['log'], { meshDegree: 0 })]
    const log = await cluster.service(registry, 'log')
    const registered = await cluster.waitFor(log, e => e.event === 'registered')
    expect(registered.event === 'registered' && [...registered.meshSeed].sort()).toEqual(deps.map(d => d.peerId).sort())
    for (const d of deps) await cluster.waitFor(d, e => e.event === 'provider-up' && e.name === 'log')
    await eventually(() => { expect(log.p2p.getPeers().map(String)).toEqual(expect.arrayContaining(deps.map(d => d.peerId))) })
    await registry.stop()
    await log.stop()
    for (const d of deps) {
      const down = await cluster.waitFor(d, e => e.event === 'provider-down' && 'peerId' in e && e.peerId === log.peerId, 10_000, 'log left over gossip')
      expect(down).toMatchObject({ via: 'gossip', reason: 'left' })
    }
  })

  it('a node that sees itself declared down refutes it with a higher seq and re-registers', async () => {
    const { registry, log, demo } = await setup()
    const mine = registry.catalog.get('log', log.peerId)!
    cluster.clearEvents(log)
    await publish(registry, { kind: 'patch', records: [{ ...mine, status: 'down', reason: 'heartbeat-timeout', seq: mine.seq + 5 }] })
    await cluster.waitFor(log, e => e.event === 'registered', 10_000, 're-registration after refuting')
    await eventually(() => {
      const now = registry.catalog.get('log', log.peerId)!
      expect(now.status).toBe('up')
      expect(now.seq).toBeGreaterThan(mine.seq + 5)
    })
    await eventually(() => { expect(demo.catalog.get('log', log.peerId)?.status).toBe('up') })
  })
})

describe('a peer\'s own view', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('any node answers list and lookup with its table, marked as its view, and refuses registry ops', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    await registry.stop()
    await cluster.waitFor(demo, e => e.event === 'registry-lost')
    const client = await RegistryClient.connect({ registry: demo.p2p.getMultiaddrs()[0].toString() })
    try {
      const view = await client.list()
      expect(view.source).toMatchObject({ peerId: demo.peerId, role: 'peer', registryConnected: false })
      expect(view.services.map(s => `${s.name}:${s.peerId === log.peerId ? 'log' : s.peerId === demo.peerId ? 'self' : '?'}`).sort()).toEqual(['demo:self', 'log:log'])
      // Its table answers lookups, so calls go through it while the registry is away.
      expect((await client.lookup('log')).map(r => r.peerId)).toEqual([log.peerId])
      expect(await client.lookup('nobody')).toEqual([])
      expect(await client.call('log', 'nope').catch((err: any) => err.code)).toBe('METHOD_NOT_FOUND')
      // Registering, deregistering or accusing through a peer is refused; malformed and oversized asks are too; its table is unchanged.
      // log need not know demo's address (it requires nothing; the mesh may not have linked them): dial it.
      await log.p2p.dial(demo.p2p.getMultiaddrs())
      const raw = new MuxClient(log.p2p, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: 4, timeoutMs: 5_000 })
      const before = demo.catalog.all().map(r => `${r.name}:${r.status}:${r.seq}`).sort()
      try {
        for (const req of [
          { op: 'register', services: [{ name: 'log', addrs: [], incarnation: 1, seq: 0 }] },
          { op: 'deregister', names: ['log'] },
          { op: 'suspect', peerId: log.peerId }
        ]) await expect(raw.request(demo.p2p.peerId, req, z.unknown())).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
        await expect(raw.request(demo.p2p.peerId, { op: 'lookup', name: 42 }, z.unknown())).rejects.toMatchObject({ name: 'InvalidMessageError' })
        await expect(raw.request(demo.p2p.peerId, { op: 'lookup', name: 'x'.repeat(MAX_REQUEST_FRAME) }, z.unknown())).rejects.toThrow()
        expect(demo.catalog.all().map(r => `${r.name}:${r.status}:${r.seq}`).sort()).toEqual(before)
        expect((await client.lookup('log')).map(r => r.peerId)).toEqual([log.peerId])
      } finally {
        raw.close()
      }
    } finally {
      await client.close()
    }
  })
})
