import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MAX_GOSSIP_BYTES, type RecordsMessage } from '../../src/node/gossip.js'
import type { ProviderRecord } from '../../src/node/schemas.js'
import { PATCH_BATCH, PATCH_DELAY_MS, PatchBatcher } from '../../src/services/registry/patch-batcher.js'

const r = (name: string, peerId: string, seq: number): ProviderRecord =>
  ({ name, peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq, status: 'up' })

function batcher () {
  const published: RecordsMessage[] = []
  const floods: Array<boolean | undefined> = []
  return { b: new PatchBatcher({ publish: async (m, opts) => { published.push(m as RecordsMessage); floods.push(opts?.flood) } }), published, floods }
}

describe('the hub\'s patches on gossip', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('a burst of changes is one message carrying the newest version of each entry', async () => {
    const { b, published } = batcher()
    b.push([r('log', 'A', 1), r('log', 'B', 1)])
    b.push([r('log', 'A', 2)])
    expect(published).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS - 1)
    expect(published).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(published).toEqual([{ kind: 'patch', records: [r('log', 'A', 2), r('log', 'B', 1)] }])
    b.push([r('log', 'B', 2)])
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => m.records.map(x => `${x.peerId}${x.seq}`))).toEqual([['A2', 'B1'], ['B2']])
  })

  it('goes to the registry\'s mesh peers, not flooded to every connected service', async () => {
    const { b, floods } = batcher()
    b.push([r('log', 'A', 1)])
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(floods).toEqual([false])
  })

  it('a large burst is cut into messages of at most PATCH_BATCH records', async () => {
    const { b, published } = batcher()
    b.push(Array.from({ length: PATCH_BATCH * 2 + 1 }, (_, i) => r('log', `P${i}`, 1)))
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => m.records.length)).toEqual([PATCH_BATCH, PATCH_BATCH, 1])
  })

  it('big records are cut into messages the gossip validator accepts', async () => {
    const { b, published } = batcher()
    const big = (i: number): ProviderRecord => ({ ...r('log', `P${i}`, 1), meta: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`k${k}`, '€'.repeat(256)])) })
    b.push(Array.from({ length: 40 }, (_, i) => big(i)))
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.length).toBeGreaterThan(1)
    expect(published.flatMap(m => m.records).map(x => x.peerId)).toEqual(Array.from({ length: 40 }, (_, i) => `P${i}`))
    for (const m of published) expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(MAX_GOSSIP_BYTES)
  })

  it('stop drops what is queued and leaves no timer', async () => {
    const { b, published } = batcher()
    b.push([r('log', 'A', 1)])
    b.stop()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS * 2)
    expect(published).toHaveLength(0)
  })
})
