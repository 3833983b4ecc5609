import { appendFileSync } from 'node:fs'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { catalogMessage } from '../../src/node/gossip.js'
import { signGrant } from '../../src/node/grant.js'
import { createGdsLibp2p, GOSSIP_SCORE_THRESHOLDS, type GdsLibp2p } from '../../src/node/libp2p.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import { encodeFrame, parseJson } from '../../src/node/framing.js'
import type { GdsNode } from '../../src/node/node.js'
import type { Grant, ProviderRecord } from '../../src/node/schemas.js'
import { GOSSIP_BUDGET } from '../../src/node/config.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** A record as an owner would announce it. */
function selfRecord (peerId: string, name: string, seq = 1): ProviderRecord {
  return { name, peerId, addrs: ['/ip4/127.0.0.1/tcp/9'], requires: [], version: '1.0.0', meta: {}, incarnation: 1, seq, status: 'up' }
}

async function publish (p2p: GdsLibp2p, message: unknown): Promise<void> {
  await p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame(message))
}

/** gossipsub's score of `peer` at `node` (the class has it; its exported interface does not). */
function score (node: GdsNode, peer: string): number {
  return (node.p2p.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(peer)
}

/** Everything `node` delivered (accepted) from `author` on the catalogue topic. */
function delivered (node: GdsNode, author: string): Message[] {
  const seen: Message[] = []
  node.p2p.services.pubsub.addEventListener('message', e => {
    if (e.detail.topic === CATALOG_TOPIC && e.detail.type === 'signed' && e.detail.from.toString() === author) seen.push(e.detail)
  })
  return seen
}

type Announcement = Extract<ReturnType<typeof catalogMessage.parse>, { kind: 'announce' }>

/**
 * `speaker`'s own announcement (with its grant) as `listener` hears it, and the list of what
 * `listener` keeps hearing from it. Registering again makes the speaker announce itself.
 */
async function ownAnnouncement (listener: GdsNode, speaker: GdsNode): Promise<{ own: Announcement, heard: Message[] }> {
  const heard = delivered(listener, speaker.peerId)
  await eventually(() => {
    if (heard.length === 0) speaker.registrySession!.reregister()
    expect(heard.length).toBeGreaterThan(0)
  }, 10_000, 100)
  const own = catalogMessage.parse(parseJson(heard[0].data))
  if (own.kind !== 'announce') throw new Error('expected an announcement')
  return { own, heard }
}

describe('grants: a self-announcement counts only with the registry\'s word', () => {
  const cluster = new TestCluster()
  const strays: GdsLibp2p[] = []
  afterEach(async () => {
    await Promise.all(strays.map(async s => s.stop()))
    strays.length = 0
    await cluster.stopAll()
  })

  /** A peer that never registers: it only joins the gossip mesh through `via`. */
  async function stray (via: GdsNode[]): Promise<GdsLibp2p> {
    const p2p = await createGdsLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    strays.push(p2p)
    p2p.services.pubsub.subscribe(CATALOG_TOPIC)
    for (const v of via) await p2p.dial(v.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toEqual(expect.arrayContaining(via.map(v => v.peerId))) })
    return p2p
  }

  async function setup () {
    const registry = await cluster.registry()
    const grading = await cluster.service(registry, 'grading')
    const deps = [await cluster.service(registry, 'webui', ['grading']), await cluster.service(registry, 'cli', ['grading'])]
    for (const d of deps) await cluster.waitFor(d, e => e.event === 'provider-up' && e.name === 'grading')
    return { registry, grading, deps }
  }

  const eventsAbout = (node: GdsNode, peerId: string) => (cluster.events.get(node) ?? []).filter(e => 'peerId' in e && e.peerId === peerId)

  it('an unregistered peer announcing "grading" on gossip, bare, with a forged grant or with a grant read off gossip, reaches no dependent', async () => {
    const { registry, grading, deps } = await setup()
    // A genuine announcement to steal: grading's own, with the registry's grant in it.
    const stolenGrant = (await ownAnnouncement(deps[0], grading)).own.grants[0]
    const rogue = await stray([...deps, registry])
    const id = rogue.peerId.toString()
    expect(stolenGrant).toMatchObject({ name: 'grading', peerId: grading.peerId, registry: registry.peerId })
    const forged: Grant = { ...await signGrant(await generateKeyPair('Ed25519'), { name: 'grading', peerId: id, incarnation: 1, issuedAt: 1 }), registry: registry.peerId }
    const before = deps.map(d => d.gossipCounters!.rejected)
    const attempts: unknown[] = [
      { kind: 'announce', records: [selfRecord(id, 'grading')] },
      { kind: 'announce', records: [selfRecord(id, 'grading', 2)], grants: [forged] },
      { kind: 'announce', records: [selfRecord(id, 'grading', 3)], grants: [{ ...stolenGrant, peerId: id }] },
      { kind: 'announce', records: [selfRecord(id, 'grading', 4)], grants: [stolenGrant] }
    ]
    for (const a of attempts) await publish(rogue, a)
    // Every attempt reached each dependent and was refused there...
    for (const [i, d] of deps.entries()) await eventually(() => { expect(d.gossipCounters!.rejected).toBeGreaterThanOrEqual(before[i] + attempts.length) })
    // ...so none of them knows the rogue, nor said a word about it; nor does the registry.
    for (const d of deps) {
      expect(d.catalog.get('grading', id)).toBeUndefined()
      expect(eventsAbout(d, id)).toEqual([])
      expect(d.catalog.providersOf('grading').map(r => r.peerId)).toEqual([grading.peerId])
    }
    expect(registry.catalog.get('grading', id)).toBeUndefined()
  })

  it('a registered peer cannot use its grant for a name it never registered', async () => {
    const { registry, deps } = await setup()
    const other = await cluster.service(registry, 'other')
    await cluster.waitFor(other, e => e.event === 'registered')
    for (const d of deps) await other.p2p.dial(d.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(other.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toEqual(expect.arrayContaining(deps.map(d => d.peerId))) })
    const { own } = await ownAnnouncement(deps[0], other)
    const before = deps.map(d => d.gossipCounters!.rejected)
    await publish(other.p2p, { kind: 'announce', records: [{ ...own.records[0], name: 'grading', seq: own.records[0].seq + 1 }], grants: own.grants })
    await publish(other.p2p, { kind: 'announce', records: [{ ...own.records[0], name: 'grading', seq: own.records[0].seq + 2 }], grants: [{ ...own.grants[0], name: 'grading' }] })
    for (const [i, d] of deps.entries()) await eventually(() => { expect(d.gossipCounters!.rejected).toBeGreaterThanOrEqual(before[i] + 2) })
    for (const d of deps) {
      expect(d.catalog.get('grading', other.peerId)).toBeUndefined()
      expect(eventsAbout(d, other.peerId)).toEqual([])
    }
  })

  it('provider churn by an unauthorised peer (up, leaving, up...) never reaches a dependent\'s events', async () => {
    const { registry, deps } = await setup()
    const rogue = await stray([...deps, registry])
    const id = rogue.peerId.toString()
    const before = deps.map(d => ({ ...d.gossipCounters! }))
    // Within the stray's gossip budget, so every message is judged (not merely dropped).
    const cycles = 10
    for (let i = 0; i < cycles; i++) {
      await publish(rogue, { kind: 'announce', records: [selfRecord(id, 'grading', 2 * i + 1)] })
      await publish(rogue, { kind: 'announce', records: [{ ...selfRecord(id, 'grading', 2 * i + 2), status: 'leaving' }] })
    }
    // Every `up` refused; every `leaving` taken (it may take the sender's own entries down) and applied to nothing.
    for (const [i, d] of deps.entries()) {
      await eventually(() => {
        expect(d.gossipCounters!.rejected - before[i].rejected).toBeGreaterThanOrEqual(cycles)
        expect(d.gossipCounters!.accepted - before[i].accepted).toBeGreaterThanOrEqual(cycles)
      })
      expect(d.gossipCounters!.applied).toBe(before[i].applied)
      expect(d.gossipCounters!.limited).toBe(before[i].limited)
      expect(d.catalog.get('grading', id)).toBeUndefined()
      expect(eventsAbout(d, id)).toEqual([])
    }
  })

  it('open mode: with no --acl the registry still grants, so registering is all an honest provider needs', async () => {
    const { registry, deps } = await setup()
    // A second provider is heard on gossip (not only through the hub) with the grant its registration gave it.
    const grading2 = await cluster.service(registry, 'grading', [], { bootstrap: deps.map(d => d.p2p.getMultiaddrs()[0].toString()) })
    for (const d of deps) {
      await eventually(() => { expect(d.catalog.get('grading', grading2.peerId)?.status).toBe('up') })
    }
    const { own } = await ownAnnouncement(deps[0], grading2)
    expect(own.grants.map(g => [g.name, g.peerId, g.registry])).toEqual([['grading', grading2.peerId, registry.peerId]])
  })
})

/** Announcements the flooder publishes (GDS_MEASURE=FILE appends what the test saw to FILE). */
const FLOOD = 2_000

describe('gossip rate: a flooding peer is cut off, everyone else\'s liveness untouched', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('valid announcements published as fast as possible are dropped beyond the budget, the flooder is graylisted, and no one is declared down', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log', 'flooder'])
    const flooder = await cluster.service(registry, 'flooder')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'log')
    await cluster.waitFor(demo, e => e.event === 'provider-up' && e.name === 'flooder')
    await flooder.p2p.dial(demo.p2p.getMultiaddrs()[0])
    await flooder.p2p.dial(log.p2p.getMultiaddrs()[0])
    await eventually(() => { expect(flooder.p2p.services.pubsub.getSubscribers(CATALOG_TOPIC).map(String)).toEqual(expect.arrayContaining([demo.peerId, log.peerId, registry.peerId])) })
    // The flooder's genuine announcement (with its grant), as demo hears it.
    const { own, heard } = await ownAnnouncement(demo, flooder)
    heard.length = 0
    for (const n of [registry, log, demo]) cluster.clearEvents(n)

    // Valid, granted announcements as fast as this process can publish them (bounded in count
    // and time): batches go out together, and the loop yields between them so the other nodes
    // in this process keep their own pace.
    const started = Date.now()
    let sent = 0
    while (sent < FLOOD && Date.now() - started < 20_000) {
      const batch = Array.from({ length: 50 }, (_, i) => own.records[0].seq + sent + i + 1)
      sent += batch.length
      await Promise.all(batch.map(async seq => { await publish(flooder.p2p, { kind: 'announce', records: [{ ...own.records[0], seq }], grants: own.grants }) }))
      await yieldLoop()
    }
    const floodMs = Date.now() - started

    // The flood was dropped: the flooder's score at demo goes below the graylist line (its RPCs
    // are then dropped before any check), and demo took at most its budget of the flood.
    await eventually(() => { expect(score(demo, flooder.peerId)).toBeLessThan(GOSSIP_SCORE_THRESHOLDS.graylistThreshold) })
    const graylistedMs = Date.now() - started
    expect(demo.gossipCounters!.limited).toBeGreaterThan(0)
    expect(registry.gossipCounters!.limited).toBeGreaterThan(0)
    expect(heard.length).toBeLessThanOrEqual(GOSSIP_BUDGET.burst + Math.ceil(GOSSIP_BUDGET.ratePerSec * graylistedMs / 1000))
    if (process.env.GDS_MEASURE !== undefined) {
      appendFileSync(process.env.GDS_MEASURE, JSON.stringify({ sent, floodMs, perSecond: Math.round(sent / floodMs * 1000), graylistedMs, demoAccepted: heard.length, demo: demo.gossipCounters, registry: registry.gossipCounters, log: log.gossipCounters }) + '\n')
    }

    // Everyone else's liveness untouched: no provider went down anywhere, and a real change still flows.
    for (const n of [registry, log, demo]) {
      expect((cluster.events.get(n) ?? []).filter(e => e.event === 'provider-down')).toEqual([])
    }
    expect(registry.catalog.all().map(r => `${r.name}:${r.status}`).sort()).toEqual(['demo:up', 'flooder:up', 'log:up'])
    await log.stop()
    await cluster.waitFor(demo, e => e.event === 'provider-down' && e.name === 'log', 10_000, 'a real change after the flood')
    expect(sent).toBeGreaterThanOrEqual(500)
  })
})
