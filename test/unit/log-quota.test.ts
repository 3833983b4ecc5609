import { describe, expect, it } from 'vitest'
import { TokenBuckets } from '../../src/node/token-buckets.js'
import { ServiceClaims } from '../../src/services/log/claims.js'

/** Takes from the buckets in turn: each step is [peer, cost, now, the wait expected (0: granted)]. */
function expectSteps (b: TokenBuckets, steps: Array<[string, number, number, number]>): void {
  expect(steps.map(([peer, cost, now]) => b.take(peer, cost, now))).toEqual(steps.map(s => s[3]))
}

describe('log quota: a token bucket per peer', () => {
  it('grants the burst at once, then the rate, and says how long to wait when empty', () => {
    expectSteps(new TokenBuckets({ ratePerSec: 1_000, burst: 2_000, maxPeers: 10 }), [
      ['P', 1_500, 0, 0],
      ['P', 1_000, 0, 500],
      // A refusal spends nothing: half a second later the missing 500 have come in.
      ['P', 1_000, 500, 0],
      ['P', 1, 500, 1],
      // Another peer has its own bucket.
      ['Q', 2_000, 500, 0]
    ])
  })

  it('charges a cost above the burst as the burst, refills no further than the burst, and never drains on a clock stepping back', () => {
    expectSteps(new TokenBuckets({ ratePerSec: 1_000, burst: 2_000, maxPeers: 10 }), [
      ['P', 5_000, 0, 0],
      ['P', 1, 0, 1],
      ['P', 2_000, 1_000_000, 0],
      ['P', 1, 1_000_000, 1],
      ['P', 500, 500_000, 500],
      ['P', 500, 1_000_500, 0]
    ])
  })

  it('a flood of peer ids keeps at most maxPeers buckets, forgetting the fullest first', () => {
    const b = new TokenBuckets({ ratePerSec: 1, burst: 100, maxPeers: 3 })
    expect(b.take('loud', 100, 0)).toBe(0)
    for (let i = 0; i < 1_000; i++) b.take(`p${i}`, 1, 0)
    // The drained bucket was never the fullest, so it was kept: still empty.
    expect(b.take('loud', 1, 0)).toBeGreaterThan(0)
    expect((b as any).buckets.size).toBeLessThanOrEqual(3)
  })
})

describe('log service claims', () => {
  function directory (providers: Record<string, string[]>) {
    const asked: string[] = []
    let up = true
    return {
      asked,
      setUp: (v: boolean) => { up = v },
      dir: {
        lookup: async (name: string) => { asked.push(name); if (!up) throw new Error('not connected'); return (providers[name] ?? []).map(peerId => ({ peerId })) },
        registryId: () => 'REG'
      }
    }
  }

  it('a peer may log under a name the registry lists it for, the registry under "registry", nobody else', async () => {
    const d = directory({ grading: ['G'] })
    let now = 0
    const c = new ServiceClaims(d.dir, () => now)
    expect(await c.provides('G', 'grading')).toBe(true)
    expect(await c.provides('EVIL', 'grading')).toBe(false)
    expect(await c.provides('REG', 'registry')).toBe(true)
    expect(await c.provides('EVIL', 'registry')).toBe(false)
    expect(await c.provides('EVIL', 'nosuch')).toBe(false)
    // Answers are cached: a flood of forged claims asks the registry at most once a second per name.
    for (let i = 0; i < 100; i++) await c.provides('EVIL', 'grading')
    expect(d.asked.filter(n => n === 'grading')).toHaveLength(1)
    now = 1_500
    await c.provides('EVIL', 'grading')
    expect(d.asked.filter(n => n === 'grading')).toHaveLength(2)
  })

  it('cannot ask the registry: a known provider is still trusted, an unknown claim is a retryable refusal', async () => {
    const d = directory({ grading: ['G'] })
    let now = 0
    const c = new ServiceClaims(d.dir, () => now)
    expect(await c.provides('G', 'grading')).toBe(true)
    d.setUp(false)
    now = 60_000
    expect(await c.provides('G', 'grading')).toBe(true)
    await expect(c.provides('X', 'webui')).rejects.toMatchObject({ name: 'RegistryUnreachableError', retryable: true })
    const unknownRegistry = new ServiceClaims({ ...d.dir, registryId: () => undefined }, () => 0)
    await expect(unknownRegistry.provides('REG', 'registry')).rejects.toMatchObject({ name: 'RegistryUnreachableError', retryable: true })
  })
})
