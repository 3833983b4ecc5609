import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { encodeFrame } from '../../src/node/framing.js'
import { batchOf } from '../../src/node/gossip-id.js'
import { MAX_GOSSIP_BYTES, type CatalogMessage, type RecordsMessage } from '../../src/node/gossip.js'
import type { ProviderRecord } from '../../src/node/schemas.js'
import { MAX_BATCHES, PATCH_BATCH, PATCH_DELAY_MS, PatchBatcher } from '../../src/services/registry/patch-batcher.js'

const r = (name: string, peerId: string, seq: number): ProviderRecord =>
  ({ name, peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq, status: 'up' })

const none = new Map<string, ProviderRecord[]>()
/** The batch a published patch is filed under. */
const idOf = (m: CatalogMessage): string | undefined => m.kind === 'patch' ? m.batch : undefined

function batcher () {
  const published: RecordsMessage[] = []
  const floods: Array<boolean | undefined> = []
  let n = 0
  const newId = (): string => `batch${String(n++).padStart(11, '0')}`
  return { b: new PatchBatcher({ publish: async (m, opts) => { published.push(m as RecordsMessage); floods.push(opts?.flood) } }, newId), published, floods }
}

/** What the hub sends: every record to every one of `deps`. */
const toAll = (records: ProviderRecord[], ...deps: string[]): Map<string, ProviderRecord[]> => new Map(deps.map(d => [d, records]))

describe('the hub\'s patches on gossip', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('a burst of changes is one message carrying the newest version of each entry', async () => {
    const { b, published } = batcher()
    b.push([r('log', 'A', 1), r('log', 'B', 1)], none)
    b.push([r('log', 'A', 2)], none)
    expect(published).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS - 1)
    expect(published).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(published).toEqual([{ kind: 'patch', records: [r('log', 'A', 2), r('log', 'B', 1)] }])
    b.push([r('log', 'B', 2)], none)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => m.records.map(x => `${x.peerId}${x.seq}`))).toEqual([['A2', 'B1'], ['B2']])
  })

  it('goes to the registry\'s mesh peers, not flooded to every connected service', async () => {
    const { b, floods } = batcher()
    b.push([r('log', 'A', 1)], none)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(floods).toEqual([false])
  })

  it('a large burst is cut into messages of at most PATCH_BATCH records', async () => {
    const { b, published } = batcher()
    b.push(Array.from({ length: PATCH_BATCH * 2 + 1 }, (_, i) => r('log', `P${i}`, 1)), none)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => m.records.length)).toEqual([PATCH_BATCH, PATCH_BATCH, 1])
  })

  it('big records are cut into messages the gossip validator accepts', async () => {
    const { b, published } = batcher()
    const big = (i: number): ProviderRecord => ({ ...r('log', `P${i}`, 1), meta: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`k${k}`, '€'.repeat(256)])) })
    b.push(Array.from({ length: 40 }, (_, i) => big(i)), none)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.length).toBeGreaterThan(1)
    expect(published.flatMap(m => m.records).map(x => x.peerId)).toEqual(Array.from({ length: 40 }, (_, i) => `P${i}`))
    for (const m of published) expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(MAX_GOSSIP_BYTES)
  })

  it('stop drops what is queued and leaves no timer', async () => {
    const { b, published } = batcher()
    b.push([r('log', 'A', 1)], none)
    b.stop()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS * 2)
    expect(published).toHaveLength(0)
  })

  it('tells the dependents that get every record of a batch its id, which the message names where gossipsub reads it', async () => {
    const { b, published } = batcher()
    const records = [r('log', 'A', 1)]
    const told = b.push(records, toAll(records, 'D1', 'D2'))
    expect([...told]).toEqual([['D1', 'batch00000000000'], ['D2', 'batch00000000000']])
    const more = [r('log', 'B', 1)]
    expect(b.push(more, toAll(more, 'D1', 'D2')).get('D1')).toBe('batch00000000000')
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published).toEqual([{ kind: 'patch', batch: 'batch00000000000', records: [r('log', 'A', 1), r('log', 'B', 1)] }])
    expect(batchOf(encodeFrame(published[0]))).toBe('batch00000000000')
  })

  it('tells no dependent that misses a record of the batch, or that a record is about', async () => {
    const { b, published } = batcher()
    const records = [r('log', 'A', 1), r('db', 'D3', 1)]
    const told = b.push(records, new Map([['D1', records], ['D2', [records[0]]], ['D3', [records[0]]]]))
    expect([...told.keys()]).toEqual(['D1'])
    const aboutD1 = [r('log', 'D1', 2)]
    // D1 was told of the open batch: news about it goes in another one, which D1 is not told of.
    expect(b.push(aboutD1, toAll(aboutD1, 'D2')).get('D1')).toBeUndefined()
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(idOf)).toEqual(['batch00000000000', 'batch00000000001'])
  })

  it('changes are grouped by who gets them: interleaved changes of two names are two messages', async () => {
    const { b, published } = batcher()
    for (let seq = 1; seq <= 3; seq++) {
      const log = [r('log', 'A', seq)]
      const db = [r('db', 'B', seq)]
      expect(b.push(log, toAll(log, 'D1')).get('D1')).toBe('batch00000000000')
      expect(b.push(db, toAll(db, 'D2')).get('D2')).toBe('batch00000000001')
    }
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => [idOf(m), m.records.map(x => `${x.peerId}${x.seq}`)])).toEqual([['batch00000000000', ['A3']], ['batch00000000001', ['B3']]])
  })

  it('a named batch is never a message holding a record one of its told dependents did not get', async () => {
    const peers = ['A', 'B', 'C', 'D']
    const change = fc.record({ name: fc.constantFrom('log', 'db'), peerId: fc.constantFrom(...peers), deps: fc.subarray(peers) })
    await fc.assert(fc.asyncProperty(fc.array(fc.array(change, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }), async pushes => {
      const { b, published } = batcher()
      const got = new Map<string, Set<string>>()
      const toldOf = new Map<string, Set<string>>()
      pushes.forEach((cs, i) => {
        const records = cs.map(c => r(c.name, c.peerId, i + 1))
        const sentTo = new Map<string, ProviderRecord[]>()
        cs.forEach((c, k) => { for (const d of c.deps) if (d !== c.peerId) sentTo.set(d, [...(sentTo.get(d) ?? []), records[k]]) })
        for (const [d, rs] of sentTo) for (const x of rs) got.set(d, new Set([...(got.get(d) ?? []), `${x.name}${x.peerId}${x.seq}`]))
        for (const [d, id] of b.push(records, sentTo)) toldOf.set(id, new Set([...(toldOf.get(id) ?? []), d]))
      })
      await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
      for (const m of published) {
        const id = idOf(m)
        if (id === undefined) continue
        for (const d of toldOf.get(id) ?? []) {
          for (const x of m.records) {
            expect(x.peerId).not.toBe(d)
            expect(got.get(d)?.has(`${x.name}${x.peerId}${x.seq}`)).toBe(true)
          }
        }
      }
      expect(published.length).toBeLessThanOrEqual(MAX_BATCHES)
    }), { numRuns: 300 })
  })

  it('past MAX_BATCHES in one delay the rest share one batch no dependent is told of', async () => {
    const { b, published } = batcher()
    for (let i = 0; i < MAX_BATCHES + 3; i++) {
      const records = [r('log', `P${i}`, 1)]
      const told = b.push(records, toAll(records, `D${i}`))
      expect(told.size).toBe(i < MAX_BATCHES - 1 ? 1 : 0)
    }
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published).toHaveLength(MAX_BATCHES)
    expect(published.filter(m => idOf(m) !== undefined)).toHaveLength(MAX_BATCHES - 1)
    expect(published.at(-1)!.records).toHaveLength(4)
  })

  it('only the first message of a batch cut in pages is filed under its id', async () => {
    const { b, published } = batcher()
    const records = Array.from({ length: PATCH_BATCH + 1 }, (_, i) => r('log', `P${i}`, 1))
    b.push(records, toAll(records, 'D1'))
    await vi.advanceTimersByTimeAsync(PATCH_DELAY_MS)
    expect(published.map(m => [idOf(m), m.records.length])).toEqual([['batch00000000000', PATCH_BATCH], [undefined, 1]])
  })
})
