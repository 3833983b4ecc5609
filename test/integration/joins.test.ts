import { afterEach, describe, expect, it } from 'vitest'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import { encodeFrame } from '../../src/node/framing.js'
import type { GdsNode } from '../../src/node/node.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** When `node` publishes an announcement of its own, from now on (ms of this machine's clock). */
function announcementsOf (node: GdsNode): number[] {
  const at: number[] = []
  const { pubsub } = node.p2p.services
  const publish = pubsub.publish.bind(pubsub)
  pubsub.publish = async (topic, data, ...rest) => {
    if (topic === CATALOG_TOPIC && JSON.parse(new TextDecoder().decode(data)).kind === 'announce') at.push(Date.now())
    return publish(topic, data, ...rest)
  }
  return at
}

/** Joining the catalogue topic (src/node/presence.ts): the registry gives a joiner the catalogue; members speak only while it is away. */
describe('a node joining the catalogue topic', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('with the registry in reach, members say nothing to a joiner, which holds the whole catalogue from the registry; with it gone, they announce to the next joiner', async () => {
    const registry = await cluster.registry()
    const members = [await cluster.service(registry, 'a'), await cluster.service(registry, 'b'), await cluster.service(registry, 'c')]
    for (const m of members) await cluster.waitFor(m, e => e.event === 'registered')
    const published = members.map(announcementsOf)
    const watchedAt = Date.now()
    const direct = members.map(m => m.p2p.getMultiaddrs()[0].toString())

    // A joiner linked to every member: each sees it subscribe to the topic.
    const joiner = await cluster.service(registry, 'j', ['a'], { bootstrap: direct })
    await cluster.waitFor(joiner, e => e.event === 'registered')
    for (const m of members) await eventually(() => { expect(m.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toContain(joiner.peerId) })
    // The whole catalogue, names it does not require included, from the registry's pages.
    await eventually(() => {
      for (const [i, name] of ['a', 'b', 'c'].entries()) expect(joiner.catalog.get(name, members[i].peerId)?.status).toBe('up')
    })

    // The registry gone, a second joiner (linked to every member) is announced to.
    const registryAddr = pickAddr(registry.addrs)
    const stoppedAt = Date.now()
    await registry.stop()
    for (const m of members) await cluster.waitFor(m, e => e.event === 'registry-lost')
    const before = Date.now()
    await cluster.service(registry, 'k', [], { registry: registryAddr, bootstrap: direct })
    await eventually(() => { for (const at of published) expect(at.filter(t => t >= before).length).toBeGreaterThan(0) })
    // Nothing was announced for the first joiner (it would have gone out within ANNOUNCE_COALESCE_MS
    // of its subscription). Once the registry is gone, a joiner no member holds is announced to
    // (links between members are not). A member registering again meanwhile (a late probe on a
    // loaded host) says so: one each.
    for (const [i, at] of published.entries()) {
      const again = (cluster.events.get(members[i]) ?? []).filter(e => e.event === 'registered' && e.ts >= watchedAt && e.ts < stoppedAt).length
      expect(at.filter(t => t < stoppedAt).length).toBeLessThanOrEqual(again)
    }
  })

  it('a member speaking for another peer to a joiner (an announcement of a record not its own, or with a grant it signed itself) changes nothing at the joiner', async () => {
    const registry = await cluster.registry()
    const a = await cluster.service(registry, 'a')
    const rogue = await cluster.service(registry, 'rogue')
    await cluster.waitFor(rogue, e => e.event === 'registered')
    const joiner = await cluster.service(registry, 'j', ['a'], { bootstrap: [rogue.p2p.getMultiaddrs()[0].toString()] })
    await cluster.waitFor(joiner, e => e.event === 'provider-up' && e.name === 'a')
    await eventually(() => { expect(rogue.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toContain(joiner.peerId) })
    const held = joiner.catalog.get('a', a.peerId)!
    const rejected = joiner.gossipCounters!.rejected
    const forged = { ...held, status: 'leaving' as const, seq: held.seq + 10 }
    const ownRecord = registry.catalog.get('rogue', rogue.peerId)!
    const selfSigned = { registry: rogue.peerId, name: 'a', peerId: rogue.peerId, incarnation: ownRecord.incarnation, issuedAt: 1, sig: 'A'.repeat(86) + '==' }
    const { pubsub } = rogue.p2p.services
    await pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'announce', records: [forged], grants: [] }))
    await pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'announce', records: [{ ...ownRecord, name: 'a', seq: ownRecord.seq + 1 }], grants: [{ ...selfSigned, registry: registry.peerId }] }))
    await eventually(() => { expect(joiner.gossipCounters!.rejected).toBeGreaterThanOrEqual(rejected + 2) })
    expect(joiner.catalog.get('a', a.peerId)).toEqual(held)
    expect(joiner.catalog.get('a', rogue.peerId)).toBeUndefined()
  })
})
