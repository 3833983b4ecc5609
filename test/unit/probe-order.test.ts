import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProbeOrder } from '../../src/node/probe-order.js'

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
