import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { RecordsMessage } from '../../src/node/gossip.js'
import { ANNOUNCE_COALESCE_MS, ANNOUNCE_INTERVAL_MS, ANNOUNCE_MIN_GAP_MS, Presence, type PresenceOptions } from '../../src/node/presence.js'
import { PEER_VERDICTS } from '../../src/node/config.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import type { Grant } from '../../src/node/schemas.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const REGISTRY = '12D3KooWS1ChmmoudCK7GeiajzvdaE1MuuM7CVugRTJHvSDuZKqr'
// Presence carries grants, it does not check them (every receiver does): any signature will do.
const grant = (name: string, over: Partial<Grant> = {}): Grant => ({ registry: REGISTRY, name, peerId: PEER, incarnation: 7, issuedAt: 1, sig: 'A'.repeat(86) + '==', ...over })

function presence ({ granted = true, reregister = (): void => {}, registryUp = (): boolean => false, holds = (_: string): boolean => false } = {}) {
  const published: RecordsMessage[] = []
  const pubsub = new EventTarget()
  const p = new Presence({
    services: [{ name: 'demo', requires: ['log'] }],
    peerId: PEER,
    incarnation: 7,
    addrs: () => ['/ip4/127.0.0.1/tcp/4002'],
    gossip: { publish: async m => { published.push(m as RecordsMessage) } },
    pubsub: pubsub as unknown as PresenceOptions['pubsub'],
    registryUp,
    holds,
    reregister,
    now: () => Date.now()
  })
  if (granted) p.adopt([], [grant('demo')])
  // A new subscriber each time unless `peerId` is given.
  let joiners = 0
  const subscribe = (topic = CATALOG_TOPIC, subscribe = true, peerId = `joiner-${joiners++}`): void => {
    pubsub.dispatchEvent(new CustomEvent('subscription-change', { detail: { peerId, subscriptions: [{ topic, subscribe }] } }))
  }
  return { p, published, subscribe }
}

describe('presence: when a node announces itself', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('a burst of peers joining the catalogue topic costs one announcement; other topics and leaves none', async () => {
    const { p, published, subscribe } = presence()
    p.start()
    subscribe('some/other/topic')
    subscribe(CATALOG_TOPIC, false)
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS * 2)
    expect(published).toHaveLength(0)
    subscribe(); subscribe(); subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ name: 'demo', peerId: PEER, status: 'up', incarnation: 7 })], grants: [grant('demo')] }])
    // The next burst waits until ANNOUNCE_MIN_GAP_MS after the last announcement, not longer.
    subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS - ANNOUNCE_COALESCE_MS - 1)
    expect(published).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(published).toHaveLength(2)
    p.stop()
  })

  it('a peer re-joining the topic (its link dropped and came back) is announced to once per ANNOUNCE_INTERVAL_MS, not at each return', async () => {
    const { p, published, subscribe } = presence()
    p.start()
    subscribe(CATALOG_TOPIC, true, 'peer-a')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toHaveLength(1)
    for (let i = 0; i < 10; i++) {
      subscribe(CATALOG_TOPIC, false, 'peer-a')
      subscribe(CATALOG_TOPIC, true, 'peer-a')
      await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    }
    expect(published).toHaveLength(1)
    // Another peer joining is announced to as before.
    subscribe(CATALOG_TOPIC, true, 'peer-b')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toHaveLength(2)
    // Past the window (the periodic announcement went out meanwhile), a return counts again.
    await vi.advanceTimersByTimeAsync(ANNOUNCE_INTERVAL_MS)
    const before = published.length
    subscribe(CATALOG_TOPIC, true, 'peer-a')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    expect(published).toHaveLength(before + 1)
    p.stop()
  })

  it('a member joining the topic (a peer it holds a live entry of: it has the catalogue) is not announced to; a stranger is', async () => {
    const members = new Set(['member-a', 'member-b'])
    const { p, published, subscribe } = presence({ holds: peer => members.has(peer) })
    p.start()
    subscribe(CATALOG_TOPIC, true, 'member-a')
    subscribe(CATALOG_TOPIC, true, 'member-b')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    expect(published).toHaveLength(0)
    subscribe(CATALOG_TOPIC, true, 'stranger')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toHaveLength(1)
    // No longer held (declared down, or gone from the catalogue): it may have missed us; announced to.
    members.delete('member-a')
    subscribe(CATALOG_TOPIC, true, 'member-a')
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    expect(published).toHaveLength(2)
    p.stop()
  })

  it('however peers come and go, announcements for them stay within the budget peers hold it to', async () => {
    const { p, published, subscribe } = presence()
    p.start()
    for (let t = 0; t < 60_000; t += 10) {
      subscribe()
      await vi.advanceTimersByTimeAsync(10)
    }
    // One per ANNOUNCE_MIN_GAP_MS at most, plus the periodic ones.
    expect(published.length).toBeLessThanOrEqual(60_000 / ANNOUNCE_MIN_GAP_MS + 60_000 / ANNOUNCE_INTERVAL_MS + 1)
    expect(published.length).toBeGreaterThanOrEqual(60_000 / ANNOUNCE_MIN_GAP_MS - 1)
    p.stop()
  })

  it('while the registry is in reach (it gives joiners the catalogue), neither peers joining the topic nor the interval make it announce', async () => {
    let up = true
    const { p, published, subscribe } = presence({ registryUp: () => up })
    p.start()
    subscribe(); subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_INTERVAL_MS * 2)
    expect(published).toHaveLength(0)
    // The registry lost: joiners hear of us from us again.
    up = false
    subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_COALESCE_MS)
    expect(published).toHaveLength(1)
    // A registration completing while a burst waits (it announced already): the burst's is dropped.
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    subscribe()
    up = true
    await vi.advanceTimersByTimeAsync(ANNOUNCE_MIN_GAP_MS)
    expect(published).toHaveLength(1)
    p.stop()
  })

  it('re-announces itself periodically', async () => {
    const { p, published } = presence()
    p.start()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_INTERVAL_MS * 3)
    expect(published.map(m => m.records[0].status)).toEqual(['up', 'up', 'up'])
    p.stop()
  })

  it('stop clears every timer, a pending coalesced announcement included; leaving still goes out, with a higher seq', async () => {
    const { p, published, subscribe } = presence()
    p.start()
    subscribe()
    p.stop()
    expect(vi.getTimerCount()).toBe(0)
    subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_INTERVAL_MS * 2)
    expect(published).toHaveLength(0)
    await p.announce('leaving')
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ status: 'leaving', seq: 1 })], grants: [grant('demo')] }])
  })
})

describe('presence: grants', () => {
  it('says `up` only once the registry granted the name; `leaving` goes out without a grant', async () => {
    const { p, published } = presence({ granted: false })
    await p.announce('up')
    expect(published).toHaveLength(0)
    await p.announce('leaving')
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ name: 'demo', status: 'leaving' })], grants: [] }])
  })

  it('keeps only grants for itself, this incarnation; a new registration replaces them', async () => {
    const { p, published } = presence({ granted: false })
    p.adopt([], [grant('demo', { peerId: REGISTRY }), grant('demo', { incarnation: 6 })])
    await p.announce('up')
    expect(published).toHaveLength(0)
    p.adopt([], [grant('demo')])
    await p.announce('up')
    expect(published.at(-1)).toMatchObject({ grants: [grant('demo')] })
    p.adopt([], [])
    await p.announce('up')
    expect(published).toHaveLength(1)
  })

  it('after a registration, says `up` only when it says something new: a failover to another registry of the catalogue (same version) is not announced', async () => {
    const { p, published } = presence()
    const record = { name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, status: 'up' as const }
    await p.announce('up', { onlyIfNew: true })
    expect(published).toHaveLength(1)
    // Registered with the next registry: the same entry at the same version, another registry's grant.
    p.adopt([{ ...record, seq: 0 }], [grant('demo', { registry: PEER })])
    await p.announce('up', { onlyIfNew: true })
    expect(published).toHaveLength(1)
    // The registry's answer is at a higher seq (it changed our status meanwhile): that is new.
    p.adopt([{ ...record, seq: 3 }], [grant('demo')])
    await p.announce('up', { onlyIfNew: true })
    expect(published.at(-1)?.records).toEqual([expect.objectContaining({ status: 'up', seq: 3 })])
    // After a leaving, the same `up` is new again.
    await p.announce('leaving')
    p.adopt([{ ...record, seq: 4 }], [grant('demo')])
    await p.announce('up', { onlyIfNew: true })
    expect(published.map(m => m.records[0].status)).toEqual(['up', 'up', 'leaving', 'up'])
  })

})

describe('presence: refuting a down', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('a down from the registry is refuted by re-registering above its seq: no up on gossip until the registry has taken it', async () => {
    let reregistered = 0
    const { p, published, subscribe } = presence({ reregister: () => { reregistered++ } })
    p.start()
    const record = { name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, seq: 9 }
    expect(p.onSelf({ ...record, status: 'suspect' })).toBe(false)
    expect(p.onSelf({ ...record, status: 'down' })).toBe(true)
    expect(reregistered).toBe(1)
    expect(p.registrations()[0].seq).toBe(10)
    // Neither the periodic announcement nor a new subscriber's outvotes the registry meanwhile.
    subscribe()
    await vi.advanceTimersByTimeAsync(ANNOUNCE_INTERVAL_MS)
    await p.announce('up')
    expect(published).toHaveLength(0)
    // Once the registry has our registration, we speak again.
    p.adopt([{ ...record, seq: 10, status: 'up' }], [grant('demo')])
    await p.announce('up')
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ status: 'up', seq: 10 })], grants: [grant('demo')] }])
    p.stop()
  })

  it('an accused node still says it is leaving', async () => {
    const { p, published } = presence()
    p.onSelf({ name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, seq: 3, status: 'down' })
    await p.announce('leaving')
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ status: 'leaving', seq: 5 })], grants: [grant('demo')] }])
  })
})

describe('presence: refuting a peers\' suspicion (no registry in their reach)', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('announces up on gossip above the suspected seq, and registers it; a flood of suspicions costs one announcement per gap', async () => {
    let reregistered = 0
    const { p, published } = presence({ reregister: () => { reregistered++ } })
    expect(p.refute(7, 4)).toBe(true)
    await vi.advanceTimersByTimeAsync(0)
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ status: 'up', seq: 5 })], grants: [grant('demo')] }])
    expect(reregistered).toBe(1)
    // Forged ones at the new seq, as fast as a flooder can: each bumps seq, announcements wait for the gap.
    for (let i = 0; i < 50; i++) p.refute(7, p.registrations()[0].seq)
    await vi.advanceTimersByTimeAsync(PEER_VERDICTS.refuteGapMs - 1)
    expect(published).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(published).toHaveLength(2)
    expect(published[1]).toMatchObject({ records: [{ seq: 55 }] })
    expect(reregistered).toBe(2)
    p.stop()
  })

  it('answers a suspicion of an older seq with the seq it has, without bumping it', async () => {
    const { p, published } = presence()
    p.adopt([{ name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, seq: 9, status: 'up' }], [grant('demo')])
    expect(p.refute(7, 3)).toBe(true)
    await vi.advanceTimersByTimeAsync(0)
    expect(published).toEqual([{ kind: 'announce', records: [expect.objectContaining({ status: 'up', seq: 9 })], grants: [grant('demo')] }])
    p.stop()
  })

  it('ignores a suspicion of another incarnation, and stays quiet while the registry\'s own down stands', async () => {
    const { p, published } = presence()
    p.adopt([{ name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, seq: 9, status: 'up' }], [grant('demo')])
    expect(p.refute(6, 9)).toBe(false)
    p.onSelf({ name: 'demo', peerId: PEER, addrs: [], requires: ['log'], version: '0.0.0', meta: {}, incarnation: 7, seq: 9, status: 'down' })
    expect(p.refute(7, 10)).toBe(false)
    await vi.advanceTimersByTimeAsync(PEER_VERDICTS.refuteGapMs)
    expect(published).toEqual([])
  })
})
