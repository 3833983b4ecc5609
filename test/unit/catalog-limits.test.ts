import { describe, expect, it } from 'vitest'
import { Catalog } from '../../src/node/catalog.js'
import { MAX_NAMES_PER_PEER } from '../../src/node/protocols.js'
import type { ProviderRecord, Registration } from '../../src/node/schemas.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const reg = (name: string): Registration => ({ name, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 })
const rec = (name: string, peerId = A, over: Partial<ProviderRecord> = {}): ProviderRecord =>
  ({ name, peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', ...over })
const names = (n: number, prefix = 's'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('catalog caps: names per peer', () => {
  it('holds across several registrations of one peer, not only per request', () => {
    const c = new Catalog()
    for (const n of names(MAX_NAMES_PER_PEER)) c.register(A, reg(n), 1)
    const before = c.all()
    expect(() => c.register(A, reg('one-more'), 2)).toThrow(expect.objectContaining({ name: 'TooManyNamesError', code: 'TOO_MANY_NAMES' }))
    expect(() => { c.checkRoom(A, ['one-more']) }).toThrow(/more than the 16 one peer may register/)
    expect(c.all()).toEqual(before)
    // Registering a name it holds again is no growth; another peer has its own room.
    expect(() => c.register(A, reg('s0'), 3)).not.toThrow()
    expect(() => c.register(B, reg('one-more'), 3)).not.toThrow()
  })

  it('checks a request of several names whole: one too many refuses all of them', () => {
    const c = new Catalog()
    for (const n of names(MAX_NAMES_PER_PEER - 2)) c.register(A, reg(n), 1)
    expect(() => { c.checkRoom(A, ['x', 'y', 's0']) }).not.toThrow()
    expect(() => { c.checkRoom(A, ['x', 'y', 'z']) }).toThrow(expect.objectContaining({ name: 'TooManyNamesError', data: { peerId: A, limit: MAX_NAMES_PER_PEER, asked: MAX_NAMES_PER_PEER + 1 } }))
    expect(c.size).toBe(MAX_NAMES_PER_PEER - 2)
  })

  it('a departed name keeps its slot until it is reaped', () => {
    const c = new Catalog({ maxNamesPerPeer: 2 })
    c.register(A, reg('a'), 1)
    c.register(A, reg('b'), 1)
    c.deregister(A, ['b'], 2)
    expect(() => c.register(A, reg('c'), 3)).toThrow(expect.objectContaining({ name: 'TooManyNamesError' }))
    c.reap(10_000, 1_000)
    expect(c.register(A, reg('c'), 10_001).changed).toBe(true)
  })
})

describe('catalog caps: entries in total', () => {
  it('refuses a new entry past maxEntries with CatalogFullError and changes nothing', () => {
    const c = new Catalog({ maxEntries: 3 })
    c.register(A, reg('a'), 1)
    c.register(A, reg('b'), 1)
    c.register(B, reg('a'), 1)
    const before = c.all()
    expect(() => c.register(B, reg('b'), 2)).toThrow(expect.objectContaining({ name: 'CatalogFullError', code: 'CATALOG_FULL', retryable: true, data: { limit: 3 } }))
    expect(() => { c.checkRoom(B, ['b']) }).toThrow(/catalogue is full \(3 entries/)
    expect(c.all()).toEqual(before)
    // An existing entry still re-registers and changes (a restart, new addrs).
    expect(c.register(B, { ...reg('a'), incarnation: 2 }, 3).changed).toBe(true)
  })

  it('gossip and patches past the caps are dropped as full, existing entries still update', () => {
    const c = new Catalog({ maxEntries: 2, maxNamesPerPeer: 1 })
    expect(c.apply(rec('a'), 'owner', 1).outcome).toBe('applied')
    expect(c.apply(rec('b'), 'owner', 1).outcome).toBe('full')
    expect(c.apply(rec('a', B), 'registry', 1).outcome).toBe('applied')
    const C = B.replace(/B/g, 'C')
    expect(c.apply(rec('a', C), 'registry', 1).outcome).toBe('full')
    expect(c.apply(rec('a', A, { seq: 1, status: 'leaving' }), 'owner', 2).outcome).toBe('applied')
    expect(c.size).toBe(2)
    expect(c.get('a', C)).toBeUndefined()
  })

  it('a flood of announcements from many peers never grows the table past the cap', () => {
    const c = new Catalog({ maxEntries: 100 })
    let applied = 0
    for (let p = 0; p < 1_000; p++) {
      const peer = `12D3KooW${String(p).padStart(44, '1')}`
      for (const n of names(4)) if (c.apply(rec(n, peer), 'owner', p).outcome === 'applied') applied++
    }
    expect(applied).toBe(100)
    expect(c.size).toBe(100)
  })

  it('a registry snapshot (resync) and a persisted file are held to the caps too', () => {
    const c = new Catalog({ maxEntries: 2 })
    c.resync(['a'], [rec('a'), rec('a', B), rec('a', B.replace(/B/g, 'C'))], 1)
    expect(c.size).toBe(2)
    const d = new Catalog({ maxEntries: 2 })
    expect(d.load([rec('a'), rec('b'), rec('c')], 1)).toBe(1)
    expect(d.size).toBe(2)
  })

  it('a member full of other names still takes the providers of a name it requires, under a cap of their own, and frees the slot on reaping', () => {
    const C = B.replace(/B/g, 'C')
    const c = new Catalog({ maxEntries: 2, keeps: n => n === 'log' })
    expect(c.apply(rec('x'), 'registry', 1).outcome).toBe('applied')
    expect(c.apply(rec('y'), 'registry', 1).outcome).toBe('applied')
    expect(c.apply(rec('z'), 'registry', 1).outcome).toBe('full')
    // The table is full of names it does not require: the provider it calls is held all the same.
    expect(c.apply(rec('log', B), 'registry', 1).outcome).toBe('applied')
    expect(c.apply(rec('log', C), 'registry', 1).outcome).toBe('applied')
    // Its own side has a cap too, as large: a flood of one required name stops there.
    expect(c.apply(rec('log', A), 'registry', 1).outcome).toBe('full')
    expect(c.size).toBe(4)
    // A reaped provider frees its slot on its side only.
    c.apply(rec('log', B, { status: 'leaving', seq: 1 }), 'registry', 2)
    c.reap(100_000, 1_000)
    expect(c.apply(rec('z'), 'registry', 100_001).outcome).toBe('full')
    expect(c.apply(rec('log', A), 'registry', 100_001).outcome).toBe('applied')
  })
})
