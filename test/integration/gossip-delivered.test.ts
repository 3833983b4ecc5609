import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import { Channel, encodeFrame } from '../../src/node/framing.js'
import { batchOf, newBatchId } from '../../src/node/gossip-id.js'
import type { GdsNode } from '../../src/node/node.js'
import { CATALOG_TOPIC, MAX_NOTIFY_FRAME, NOTIFY_PROTOCOL } from '../../src/node/protocols.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

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

describe('a registry patch delivered over the hub is not verified again from gossip', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  /** A registry, a provider of log, demo (requires log) and bystander (requires nothing), all on gossip. */
  async function setup () {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    const bystander = await cluster.service(registry, 'bystander')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    await cluster.waitFor(bystander, e => e.event === 'registered')
    for (const n of [demo, bystander]) {
      await eventually(() => { expect(registry.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toContain(n.peerId) })
    }
    return { registry, log, demo, bystander }
  }

  it('a dependent drops the gossip copy unread; a node the hub did not tell verifies and applies it', async () => {
    const { registry, demo, bystander } = await setup()
    const atDemo = verifiedBatches(demo)
    const atBystander = verifiedBatches(bystander)
    const redundant = demo.gossipCounters!.redundant
    // A second provider of log: the registry's patch goes to demo over the hub, and to gossip.
    const log2 = await cluster.service(registry, 'log')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && 'peerId' in e && e.peerId === log2.peerId && e.via === 'hub')
    // The bystander requires nothing, so it only hears of log2 through the registry's gossip patch.
    await eventually(() => {
      expect(atBystander.length).toBeGreaterThan(0)
      expect(bystander.catalog.get('log', log2.peerId)?.status).toBe('up')
    })
    expect(atDemo.filter(b => atBystander.includes(b))).toEqual([])
    expect(demo.gossipCounters!.redundant).toBe(redundant)
  })

  it('a forged claim of delivery (a notify stream from another peer, or a patch of the same batch by someone else) suppresses nothing', async () => {
    const { registry, log, demo, bystander } = await setup()
    const record = demo.catalog.get('log', log.peerId)!
    const batch = newBatchId()
    // The bystander poses as the registry on demo's notify protocol: refused before any record or batch is read.
    await bystander.p2p.dial(demo.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(bystander.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toContain(demo.peerId) })
    const stream = await bystander.p2p.dialProtocol(demo.p2p.getMultiaddrs()[0], NOTIFY_PROTOCOL)
    await new Channel(stream, MAX_NOTIFY_FRAME).write({ type: 'patch', records: [], delivered: [batch] }).catch(() => {})
    await eventually(() => { expect(stream.status).not.toBe('open') })
    // ... and publishes a patch of that batch itself: rejected (not the registry's), and filed under its own id.
    const rejected = demo.gossipCounters!.rejected
    await bystander.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'patch', batch, records: [{ ...record, seq: record.seq + 1, status: 'suspect' }] }))
    await eventually(() => { expect(demo.gossipCounters!.rejected).toBeGreaterThan(rejected) })
    // The registry's own patch of that batch is still verified and applied.
    await registry.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'patch', batch, records: [{ ...record, seq: record.seq + 2, status: 'suspect' }] }))
    await eventually(() => { expect(demo.catalog.get('log', log.peerId)).toMatchObject({ seq: record.seq + 2, status: 'suspect' }) })
  })
})
