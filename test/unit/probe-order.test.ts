import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProbeOrder, providersToCheck } from '../../src/node/probe-order.js'

/** A seeded generator (mulberry32), so each order is reproducible. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const names = (n: number): Set<string> => new Set(Array.from({ length: n }, (_, i) => `m${i}`))

describe('probe order: SWIM\'s round-robin over the members shuffled', () => {
  it('probes every member exactly once a round, whatever the members and the randomness', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer(), fc.integer({ min: 1, max: 4 }), (n, seed, rounds) => {
      const members = names(n)
      const order = new ProbeOrder(seeded(seed))
      for (let r = 0; r < rounds; r++) {
        const round = Array.from({ length: n }, () => order.next(members))
        expect(new Set(round)).toEqual(members)
      }
    }))
  })

  it('shuffles each round anew (the rounds do not repeat one fixed order)', () => {
    const members = names(10)
    const order = new ProbeOrder(seeded(7))
    const rounds = Array.from({ length: 5 }, () => Array.from({ length: 10 }, () => order.next(members)).join(','))
    expect(new Set(rounds).size).toBeGreaterThan(1)
  })

  it('probes a member that joins mid-round within this round or the next, and never one that left', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 20 }), fc.integer(), (n, seed) => {
      const members = names(n)
      const order = new ProbeOrder(seeded(seed))
      order.next(members)
      members.add('joined')
      members.delete('m0')
      const seen = Array.from({ length: 2 * n }, () => order.next(members))
      expect(seen).toContain('joined')
      expect(seen).not.toContain('m0')
    }))
  })

  it('has no one to probe in an empty cluster', () => {
    const order = new ProbeOrder(seeded(1))
    expect(order.next(new Set())).toBeUndefined()
    expect(order.next(new Set(['a']))).toBe('a')
    expect(order.next(new Set())).toBeUndefined()
  })
})

describe('providers their dependents check: a few checks a beat per provider, not one per dependent', () => {
  /** A catalogue of one name, its providers and its dependents. */
  const catalog = (providers: string[], dependents: number) => ({
    providersOf: (name: string) => name === 'log' ? providers.map(peerId => ({ peerId })) as any : [],
    dependentsOf: (name: string) => new Set(name === 'log' ? Array.from({ length: dependents }, (_, i) => `d${i}`) : [])
  })

  it('all dependents together check each provider about checksPerBeat times a beat, at any size', () => {
    for (const dependents of [3, 10, 50, 200]) {
      const random = seeded(dependents)
      const c = catalog(['p1', 'p2'], dependents)
      const beats = 200
      let checks = 0
      for (let beat = 0; beat < beats; beat++) {
        for (let d = 0; d < dependents; d++) checks += providersToCheck(['log'], c, () => true, 2, random).filter(p => p === 'p1').length
      }
      // Fewer dependents than checks: each checks every beat.
      const expected = Math.min(2, dependents)
      expect(checks / beats).toBeGreaterThan(expected * 0.8)
      expect(checks / beats).toBeLessThan(expected * 1.2)
    }
  })

  it('checks members only, and nothing for names it does not require', () => {
    const c = catalog(['p1', 'gone'], 1)
    expect(providersToCheck(['log'], c, p => p !== 'gone', 2, () => 0)).toEqual(['p1'])
    expect(providersToCheck(['other'], c, () => true, 2, () => 0)).toEqual([])
    expect(providersToCheck([], c, () => true, 2, () => 0)).toEqual([])
  })
})
