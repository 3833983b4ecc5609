import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { TokenBuckets } from '../../src/node/token-buckets.js'

/** One token at a time, granted or not (what gossip asks). */
function ok (b: TokenBuckets): { take: (peer: string, now: number) => boolean, size: () => number } {
  return { take: (peer, now) => b.take(peer, 1, now) === 0, size: () => b.size }
}

describe('token buckets per peer, one token a message (the gossip budget; time passed in)', () => {
  it('lets a burst through, then refills at its rate, up to the burst', () => {
    const b = ok(new TokenBuckets({ burst: 3, ratePerSec: 2, maxPeers: 10 }))
    expect([b.take('a', 0), b.take('a', 0), b.take('a', 0), b.take('a', 0)]).toEqual([true, true, true, false])
    expect(b.take('a', 499)).toBe(false)
    expect(b.take('a', 500)).toBe(true)
    expect(b.take('a', 500)).toBe(false)
    // A long quiet spell earns no more than the burst.
    expect([0, 0, 0, 0].map(() => b.take('a', 60_000))).toEqual([true, true, true, false])
  })

  it('keeps peers apart', () => {
    const b = ok(new TokenBuckets({ burst: 1, ratePerSec: 1, maxPeers: 10 }))
    expect(b.take('a', 0)).toBe(true)
    expect(b.take('a', 0)).toBe(false)
    expect(b.take('b', 0)).toBe(true)
  })

  it('a clock that goes back earns nothing', () => {
    const b = ok(new TokenBuckets({ burst: 1, ratePerSec: 1, maxPeers: 10 }))
    expect(b.take('a', 10_000)).toBe(true)
    expect(b.take('a', 0)).toBe(false)
    expect(b.take('a', 10_999)).toBe(false)
    expect(b.take('a', 11_000)).toBe(true)
  })

  it('remembers at most maxPeers, forgetting the fullest (forgetting it costs nothing)', () => {
    const b = ok(new TokenBuckets({ burst: 2, ratePerSec: 0.001, maxPeers: 2 }))
    b.take('a', 0); b.take('a', 0); b.take('b', 0); b.take('c', 0)
    expect(b.size()).toBe(2)
    // b (one token left, the fullest) was forgotten and is full again; a is still spent.
    expect(b.take('a', 1)).toBe(false)
    expect([b.take('b', 1), b.take('b', 1)]).toEqual([true, true])
  })

  it('refuses a budget that could let nothing through', () => {
    expect(() => new TokenBuckets({ burst: 0, ratePerSec: 1, maxPeers: 1 })).toThrow(RangeError)
    expect(() => new TokenBuckets({ burst: 1, ratePerSec: 0, maxPeers: 1 })).toThrow(RangeError)
    expect(() => new TokenBuckets({ burst: 1, ratePerSec: Number.NaN, maxPeers: 1 })).toThrow(RangeError)
  })

  it('fast-check: over any span, a peer gets at most burst + rate × span', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 100 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 400 }), (burst, perSecond, gaps) => {
      const b = ok(new TokenBuckets({ burst, ratePerSec: perSecond, maxPeers: 4 }))
      let now = 0
      let granted = 0
      for (const gap of gaps) {
        now += gap
        if (b.take('p', now)) granted++
      }
      expect(granted).toBeLessThanOrEqual(burst + Math.floor(perSecond * now / 1000) + 1)
    }))
  })
})
