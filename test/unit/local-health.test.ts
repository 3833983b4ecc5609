import { describe, expect, it } from 'vitest'
import { LocalHealth } from '../../src/node/local-health.js'

const policy = { maxScore: 8, slowLoopMs: 250, recoverMs: 2_000 }

describe('local health: Lifeguard\'s awareness of our own slowness', () => {
  it('starts healthy, with timeouts as configured', () => {
    const h = new LocalHealth(policy)
    expect(h.healthy(0)).toBe(true)
    expect(h.scale(500, 0)).toBe(500)
  })

  it('helpers that do not answer count against us, helpers that answer do not', () => {
    const h = new LocalHealth(policy)
    h.indirect(3, 3, 0)
    expect(h.healthy(0)).toBe(true)
    h.indirect(3, 1, 10)
    expect(h.scoreAt(10)).toBe(2)
    expect(h.healthy(10)).toBe(false)
    expect(h.scale(500, 10)).toBe(1_500)
    // With no one to ask, our own failed check is the only sign.
    h.indirect(0, 0, 20)
    expect(h.scoreAt(20)).toBe(3)
  })

  it('a long event-loop stall and a refutation of us count; a short stall does not', () => {
    const h = new LocalHealth(policy)
    h.loopDelay(100, 0)
    expect(h.healthy(0)).toBe(true)
    h.loopDelay(400, 0)
    h.refuted(1)
    expect(h.scoreAt(1)).toBe(2)
  })

  it('recovers: an answer takes one off, and so does each quiet recovery period', () => {
    const h = new LocalHealth(policy)
    for (let i = 0; i < 4; i++) h.refuted(0)
    expect(h.scoreAt(0)).toBe(4)
    h.answered(100)
    expect(h.scoreAt(100)).toBe(3)
    expect(h.scoreAt(2_099)).toBe(3)
    expect(h.scoreAt(2_100)).toBe(2)
    expect(h.scoreAt(6_100)).toBe(0)
    expect(h.healthy(6_100)).toBe(true)
    // Never below healthy.
    h.answered(6_200)
    expect(h.scoreAt(6_200)).toBe(0)
  })

  it('stretches timeouts at most maxScore times, however many signs come', () => {
    const h = new LocalHealth(policy)
    for (let i = 0; i < 100; i++) h.indirect(3, 0, i)
    expect(h.scale(500, 100)).toBe(500 * policy.maxScore)
  })

  it('refuses a policy with no room for a score', () => {
    expect(() => new LocalHealth({ ...policy, maxScore: 0 })).toThrow(RangeError)
  })
})
