import { describe, expect, it } from 'vitest'
import { Catalog, compareVersion, type Change } from '../../src/node/catalog.js'
import { MAX_VERSION, providerRecord, registration, type ProviderRecord, type Registration } from '../../src/node/schemas.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const reg = (over: Partial<Registration> = {}): Registration =>
  ({ name: 'log', addrs: ['/ip4/127.0.0.1/tcp/1'], requires: [], version: '1', meta: {}, incarnation: 100, seq: 0, ...over })
const rec = (over: Partial<ProviderRecord> = {}): ProviderRecord =>
  ({ name: 'log', peerId: A, addrs: [], requires: [], version: '1', meta: {}, incarnation: 100, seq: 0, status: 'up', ...over })

describe('catalog: registration (the registry side)', () => {
  it('registers, and registering the same thing again changes nothing but lastSeen', () => {
    const c = new Catalog()
    const first = c.register(A, reg(), 1000)
    expect(first).toMatchObject({ changed: true, record: { status: 'up', seq: 0, lastSeen: 1000, peerId: A } })
    const again = c.register(A, reg(), 2000)
    expect(again.changed).toBe(false)
    expect(again.record).toEqual({ ...first.record, lastSeen: 2000 })
  })

  it('a changed body bumps seq above both the owner\'s and the stored one', () => {
    const c = new Catalog()
    c.register(A, reg({ seq: 3 }), 1)
    expect(c.register(A, reg({ seq: 1, addrs: ['/ip4/127.0.0.1/tcp/2'] }), 2).record.seq).toBe(4)
    expect(c.register(A, reg({ seq: 9, requires: ['x'] }), 3).record.seq).toBe(9)
  })

  it('refuses a stale incarnation (another process on the same key)', () => {
    const c = new Catalog()
    c.register(A, reg({ incarnation: 200 }), 1)
    expect(() => c.register(A, reg({ incarnation: 100 }), 2)).toThrow(expect.objectContaining({ name: 'RegistrationRejectedError' }))
    expect(c.get('log', A)?.incarnation).toBe(200)
  })

  it('re-registration after being declared down brings it back up with a higher seq', () => {
    const c = new Catalog()
    c.register(A, reg(), 1)
    const [down] = c.setPeerStatus(A, 'down', 'heartbeat-timeout', 2)
    expect(down.record).toMatchObject({ status: 'down', seq: 1, reason: 'heartbeat-timeout' })
    const back = c.register(A, reg(), 3)
    expect(back).toMatchObject({ changed: true, previous: 'down', record: { status: 'up', seq: 2 } })
  })

  it('setPeerStatus changes every entry of the peer once, leaves departed ones alone', () => {
    const c = new Catalog()
    c.register(A, reg({ name: 'log' }), 1)
    c.register(A, reg({ name: 'audit' }), 1)
    c.deregister(A, ['audit'], 2)
    expect(c.setPeerStatus(A, 'suspect', 'x', 3).map(ch => ch.record.name)).toEqual(['log'])
    expect(c.setPeerStatus(A, 'suspect', 'x', 4)).toEqual([])
    expect(c.get('audit', A)?.status).toBe('leaving')
  })

  it('observe records rtt and load without touching the version', () => {
    const c = new Catalog()
    c.register(A, reg(), 1)
    c.observe(A, { rttMs: 3, load: 7 }, 5)
    expect(c.get('log', A)).toMatchObject({ rttMs: 3, load: 7, lastSeen: 5, seq: 0, incarnation: 100 })
  })
})

describe('catalog: the merge rule (patches and announcements)', () => {
  it('guards: only the registry speaks for others; owners only say up or leaving', () => {
    const c = new Catalog()
    expect(c.apply(rec(), 'peer', 1).outcome).toBe('rejected')
    expect(c.apply(rec({ status: 'down' }), 'owner', 1).outcome).toBe('rejected')
    expect(c.apply(rec({ status: 'leaving' }), 'owner', 1).outcome).toBe('applied')
    expect(c.apply(rec({ peerId: B, status: 'down' }), 'registry', 1).outcome).toBe('applied')
  })

  it('refutes an accusation about itself instead of applying it', () => {
    const c = new Catalog()
    expect(c.apply(rec({ status: 'down' }), 'registry', 1, A).outcome).toBe('refute')
    expect(c.apply(rec({ status: 'suspect' }), 'registry', 1, A).outcome).toBe('refute')
    expect(c.size).toBe(0)
  })

  it('the same change over two paths applies once; an older one never undoes a newer one', () => {
    const c = new Catalog()
    expect(c.apply(rec({ seq: 2 }), 'registry', 1).outcome).toBe('applied')
    expect(c.apply(rec({ seq: 2 }), 'owner', 1).outcome).toBe('duplicate')
    expect(c.apply(rec({ seq: 1, status: 'leaving' }), 'owner', 1).outcome).toBe('stale')
    expect(c.apply(rec({ incarnation: 99, seq: 50 }), 'registry', 1).outcome).toBe('stale')
    expect(c.get('log', A)).toMatchObject({ seq: 2, status: 'up' })
  })

  it('converges to the highest version whatever order the versions arrive in', () => {
    const versions = [
      rec({ seq: 0 }), rec({ seq: 1, status: 'suspect' }), rec({ seq: 2, status: 'down' }),
      rec({ incarnation: 101, seq: 0 }), rec({ incarnation: 101, seq: 1, status: 'leaving' })
    ]
    const permutations = (xs: ProviderRecord[]): ProviderRecord[][] => xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map(p => [x, ...p]))
    for (const order of permutations(versions)) {
      const c = new Catalog()
      for (const r of order) c.apply(r, 'registry', 1)
      expect(c.get('log', A)).toMatchObject({ incarnation: 101, seq: 1, status: 'leaving' })
    }
  })

  it('flapping produces one change per real transition, at the registry and at a dependent', () => {
    const transitions = (changes: Change[]): string[] => changes.map(ch => `${ch.previous ?? 'new'}→${ch.record.status}`)
    const registry = new Catalog()
    const first = registry.register(A, reg(), 0)
    // Heartbeat verdicts repeat a status while it holds; only a different one is a change.
    const verdicts = ['up', 'up', 'down', 'down', 'up', 'down', 'up'] as const
    const changes: Change[] = [{ record: first.record, previous: first.previous }, ...verdicts.flatMap((s, i) => registry.setPeerStatus(A, s, 'heartbeat', i + 1))]
    expect(transitions(changes)).toEqual(['new→up', 'up→down', 'down→up', 'up→down', 'down→up'])
    // A dependent hears every patch twice (hub and gossip paths) and reports each once.
    const dependent = new Catalog()
    const heard = changes.flatMap(ch => [ch.record, ch.record]).flatMap(r => dependent.apply(r, 'registry', 1).change ?? [])
    expect(transitions(heard)).toEqual(transitions(changes))
  })

  it('resync replaces what it knows of the names with the snapshot, versions aside', () => {
    const c = new Catalog()
    c.apply(rec({ seq: 9 }), 'registry', 1)
    c.apply(rec({ peerId: B, seq: 9 }), 'registry', 1)
    c.apply(rec({ name: 'other', seq: 1 }), 'registry', 1)
    const changes = c.resync(['log'], [rec({ seq: 1, status: 'down' })], 2)
    expect(changes.map(ch => `${ch.record.peerId === A ? 'A' : 'B'}:${ch.removed === true ? 'removed' : ch.record.status}`).sort()).toEqual(['A:down', 'B:removed'])
    expect(c.get('other', A)).toBeDefined()
  })

  it('knows when it last changed and which names it holds; a stale or duplicate record is no change', () => {
    const c = new Catalog()
    expect(c.changedAt).toBe(0)
    c.apply(rec({ seq: 2 }), 'registry', 10)
    c.apply(rec({ name: 'grading', peerId: B }), 'registry', 20)
    expect(c.changedAt).toBe(20)
    expect(c.names().sort()).toEqual(['grading', 'log'])
    c.apply(rec({ seq: 1 }), 'registry', 30)
    c.apply(rec({ seq: 2 }), 'registry', 40)
    c.apply(rec({ name: 'x', peerId: B }), 'peer', 50)
    expect(c.changedAt).toBe(20)
    c.resync(['grading'], [], 60)
    expect(c.changedAt).toBe(60)
    expect(c.names()).toEqual(['log'])
  })

  it('reaps down and departed entries only after the grace period since their status changed', () => {
    const c = new Catalog()
    c.register(A, reg(), 0)
    c.setPeerStatus(A, 'down', 'x', 1000)
    c.register(B, reg(), 0)
    expect(c.reap(1000 + 499, 500)).toEqual([])
    expect(c.reap(1000 + 500, 500).map(ch => ch.record.peerId)).toEqual([A])
    expect(c.get('log', B)).toBeDefined()
  })

  it('keeps its indexes right across re-registration and reaping', () => {
    const c = new Catalog()
    c.register(A, reg({ name: 'web', requires: ['log', 'db'] }), 0)
    expect([...c.dependentsOf('log')]).toEqual([A])
    c.register(A, reg({ name: 'web', requires: ['db'], seq: 1 }), 1)
    expect([...c.dependentsOf('log')]).toEqual([])
    expect([...c.dependentsOf('db')]).toEqual([A])
    c.deregister(A, ['web'], 2)
    expect([...c.dependentsOf('db')]).toEqual([])
    c.reap(10_000, 1)
    expect(c.providersOf('web')).toEqual([])
    expect(c.ofPeer(A)).toEqual([])
    expect(c.peers()).toEqual([])
  })

  it('compareVersion orders by incarnation, then seq', () => {
    expect(compareVersion({ incarnation: 1, seq: 9 }, { incarnation: 2, seq: 0 })).toBe(-1)
    expect(compareVersion({ incarnation: 2, seq: 1 }, { incarnation: 2, seq: 0 })).toBe(1)
    expect(compareVersion({ incarnation: 2, seq: 1 }, { incarnation: 2, seq: 1 })).toBe(0)
  })
})

describe('catalog: counters stay in range', () => {
  const MAX = Number.MAX_SAFE_INTEGER

  it('refuses a registration whose version leaves no room for the registry\'s bumps', () => {
    const c = new Catalog()
    expect(() => c.register(A, reg({ seq: MAX }), 1)).toThrow(/seq/)
    expect(() => c.register(A, reg({ incarnation: MAX }), 1)).toThrow(/incarnation/)
    expect(c.size).toBe(0)
    expect(() => c.register(A, reg({ seq: MAX_VERSION, incarnation: MAX_VERSION }), 1)).not.toThrow()
  })

  it('never produces a record the schema rejects: a bump at the top saturates', () => {
    const c = new Catalog()
    c.load([rec({ seq: MAX }), rec({ name: 'grading', seq: MAX })], 1)
    const changes = [...c.setPeerStatus(A, 'down', 'heartbeat-timeout', 2), ...c.deregister(A, ['grading'], 3)]
    expect(changes.length).toBeGreaterThan(0)
    for (const r of c.all()) expect(providerRecord.safeParse(r).success, JSON.stringify(r)).toBe(true)
  })

  it('the registration schema documents the ceiling', () => {
    const base = { name: 'log', addrs: [], incarnation: 1, seq: 0 }
    expect(registration.safeParse({ ...base, seq: MAX_VERSION }).success).toBe(true)
    expect(registration.safeParse({ ...base, seq: MAX_VERSION + 1 }).success).toBe(false)
    expect(registration.safeParse({ ...base, incarnation: MAX }).success).toBe(false)
  })
})

describe('catalog: the peers\' verdict (authority `peers`, no registry in reach)', () => {
  it('takes a live entry down at the very version held, and nothing else', () => {
    const c = new Catalog()
    c.apply(rec({ seq: 4 }), 'registry', 1)
    expect(c.apply(rec({ seq: 4, status: 'down', reason: 'refused' }), 'peers', 2)).toMatchObject({ outcome: 'applied', change: { previous: 'up', record: { status: 'down', seq: 4 } } })
    expect(c.apply(rec({ seq: 4, status: 'down' }), 'peers', 3).outcome).toBe('duplicate')
    // Not a way to write anything else: another version, another status, an entry we do not hold.
    expect(c.apply(rec({ seq: 5, status: 'down' }), 'peers', 4).outcome).toBe('rejected')
    expect(c.apply(rec({ seq: 3, status: 'down' }), 'peers', 4).outcome).toBe('stale')
    expect(c.apply(rec({ seq: 4, status: 'up' }), 'peers', 4).outcome).toBe('rejected')
    expect(c.apply(rec({ peerId: B, seq: 4, status: 'down' }), 'peers', 4).outcome).toBe('rejected')
  })

  it('the owner\'s refutation (seq + 1) or a registry record of a higher version overrides it; one of the same version does not', () => {
    const c = new Catalog()
    c.apply(rec({ seq: 4 }), 'registry', 1)
    c.apply(rec({ seq: 4, status: 'down' }), 'peers', 2)
    expect(c.apply(rec({ seq: 4, status: 'up' }), 'registry', 3).outcome).toBe('duplicate')
    expect(c.apply(rec({ seq: 4, status: 'up' }), 'owner', 3).outcome).toBe('duplicate')
    expect(c.apply(rec({ seq: 5, status: 'up' }), 'owner', 4)).toMatchObject({ outcome: 'applied', change: { previous: 'down' } })
  })

  it('the registry\'s snapshot at the same version does not flip it back up (no down→up); a higher version does', () => {
    const c = new Catalog()
    c.apply(rec({ seq: 4 }), 'registry', 1)
    c.apply(rec({ seq: 4, status: 'down' }), 'peers', 2)
    expect(c.resync(['log'], [rec({ seq: 4, status: 'up' })], 3)).toEqual([])
    expect(c.get('log', A)?.status).toBe('down')
    // The registry probed it and agrees, a version later: no event-worthy change either.
    expect(c.resync(['log'], [rec({ seq: 5, status: 'down' })], 4)).toMatchObject([{ previous: 'down', record: { status: 'down', seq: 5 } }])
    // The owner re-registered (a restart): up again.
    expect(c.resync(['log'], [rec({ incarnation: 101, seq: 0, status: 'up' })], 5)).toMatchObject([{ previous: 'down', record: { status: 'up' } }])
  })
})
