import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LogStore, type Query } from '../../src/services/log/store.js'
import type { LogEntry } from '../../src/node/log-shipper.js'

const all = async (s: LogStore, q: Query): Promise<LogEntry[]> => { const out: LogEntry[] = []; for await (const x of s.query(q)) out.push(x); return out }
const e = (seq: number, over: Partial<LogEntry> = {}): LogEntry => ({ ts: seq, level: 'info', service: 's', peerId: 'P', msg: 'x'.repeat(100), inc: 1, seq, ...over })

describe('log store', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }))) })
  const dir = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'gds-logstore-')); dirs.push(d); return d }

  it('rotates past the size limit, keeps the newest files, and queries across them', async () => {
    const d = await dir()
    const s = new LogStore({ dir: d, maxBytes: 2_000, keep: 2 })
    await s.open()
    for (let i = 1; i <= 100; i++) await s.append('P', [e(i)])
    await s.close()
    const files = (await readdir(d)).sort()
    expect(files).toEqual(['current.jsonl', 'log-1.jsonl', 'log-2.jsonl'])
    const again = new LogStore({ dir: d, maxBytes: 2_000, keep: 2 })
    await again.open()
    const found = await all(again, { limit: 10_000, end: 'oldest' })
    expect(found.at(-1)?.seq).toBe(100)
    expect(found.map(x => x.seq)).toEqual(found.map(x => x.seq).sort((a, b) => a - b))
    // A since query skips the files entirely older than it, and still finds what spans them.
    expect((await all(again, { since: 60, limit: 100, end: 'oldest' })).map(x => x.seq)).toEqual(found.filter(x => x.seq >= 60).map(x => x.seq))
    expect((await all(again, { since: 95, limit: 3 })).map(x => x.seq)).toEqual([98, 99, 100])
    // Old entries rotated away are gone, but their high-water mark of what is kept still dedups.
    expect(await again.append('P', [e(100), e(101)])).toEqual({ stored: 1, duplicates: 1 })
    await again.close()
  })

  it('skips a torn or foreign line at open and counts it, without losing the rest', async () => {
    const d = await dir()
    const s = new LogStore({ dir: d })
    await s.open()
    await s.append('P', [e(1), e(2)])
    await s.close()
    await appendFile(join(d, 'current.jsonl'), 'not json at all\n{"ts": 3, "lev')
    const again = new LogStore({ dir: d })
    await again.open()
    expect(again.badLines).toBe(2)
    expect((await all(again, { end: 'oldest' })).map(x => x.seq)).toEqual([1, 2])
    expect(await again.append('P', [e(3)])).toEqual({ stored: 1, duplicates: 0 })
    await again.close()
    const third = new LogStore({ dir: d })
    await third.open()
    expect((await all(third, { end: 'oldest' })).map(x => x.seq)).toEqual([1, 2, 3])
    await third.close()
  })

  it('answers the newest or the oldest `limit` matches, oldest first either way', async () => {
    const s = new LogStore({ dir: await dir() })
    await s.open()
    await s.append('P', Array.from({ length: 50 }, (_, i) => e(i + 1, { level: i % 2 === 0 ? 'info' : 'error' })))
    expect((await all(s, { limit: 3 })).map(x => x.seq)).toEqual([48, 49, 50])
    expect((await all(s, { limit: 3, end: 'oldest' })).map(x => x.seq)).toEqual([1, 2, 3])
    expect((await all(s, { limit: 3, level: 'error' })).map(x => x.seq)).toEqual([46, 48, 50])
    expect((await all(s, { limit: 100, since: 45, until: 47 })).map(x => x.seq)).toEqual([45, 46, 47])
    await s.close()
  })

  it('a lone peer rotates freely; past its share it may not rotate away another peer\'s entries, and is refused, storing nothing', async () => {
    const d = await dir()
    // Capacity 3 files × 2,000 bytes; a quarter each (1,500 bytes): about ten 150-byte entries.
    const s = new LogStore({ dir: d, maxBytes: 2_000, keep: 2, peerShare: 0.25 })
    await s.open()
    let seq = 0
    for (let i = 0; i < 100; i++) await s.append('P', [e(++seq)])
    expect(s.usageOf('P')).toBeGreaterThan(1_500)
    await s.append('Q', [e(1, { peerId: 'Q' })])
    let refused: unknown
    for (let i = 0; i < 100 && refused === undefined; i++) await s.append('P', [e(++seq)]).catch(err => { refused = err })
    expect(refused).toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', retryable: true })
    const used = s.usageOf('P')
    const refusedSeq = seq
    await expect(s.append('P', [e(++seq)])).rejects.toMatchObject({ name: 'QuotaExceededError' })
    expect(s.usageOf('P')).toBe(used)
    const kept = await all(s, { limit: 1_000, end: 'oldest' })
    expect(kept.filter(x => x.peerId === 'P' && x.seq >= refusedSeq)).toEqual([])
    expect(kept.filter(x => x.peerId === 'Q').map(x => x.seq)).toEqual([1])
    // Q, within its share, still writes.
    expect(await s.append('Q', [e(2, { peerId: 'Q' })])).toEqual({ stored: 1, duplicates: 0 })
    await s.close()
    // The shares are counted again from the files at start.
    const again = new LogStore({ dir: d, maxBytes: 2_000, keep: 2, peerShare: 0.25 })
    await again.open()
    expect(again.usageOf('P')).toBe(used)
    await expect(again.append('P', [e(++seq)])).rejects.toMatchObject({ name: 'QuotaExceededError' })
    await again.close()
  })

  it('protects only peers within their share: two loud peers rotate each other\'s entries away', async () => {
    const s = new LogStore({ dir: await dir(), maxBytes: 1_000, keep: 1, peerShare: 0.25 })
    await s.open()
    let seq = 0
    for (let i = 0; i < 30; i++) await s.append('P', [e(++seq)])
    await s.append('Q', [e(1, { peerId: 'Q' })])
    let refused = false
    for (let i = 0; i < 30 && !refused; i++) await s.append('P', [e(++seq)]).catch(() => { refused = true })
    expect(refused).toBe(true)
    // Q grows past its share too: its entries are no longer protected, and P may write again.
    let q = 1
    for (let i = 0; i < 5; i++) await s.append('Q', [e(++q, { peerId: 'Q' })])
    expect(s.usageOf('Q')).toBeGreaterThan(500)
    expect(await s.append('P', [e(++seq)])).toEqual({ stored: 1, duplicates: 0 })
    await s.close()
  })

  it('reads back what it wrote across chunk boundaries (multi-byte text), and skips an overlong foreign line', async () => {
    const d = await dir()
    const s = new LogStore({ dir: d, peerShare: 1 })
    await s.open()
    const text = (i: number): string => `é€😀 ${i} `.repeat(200)
    const written = Array.from({ length: 300 }, (_, i) => e(i + 1, { msg: text(i) }))
    await s.append('P', written)
    await s.close()
    await appendFile(join(d, 'current.jsonl'), 'z'.repeat(200_000) + '\n')
    const again = new LogStore({ dir: d, peerShare: 1 })
    await again.open()
    expect(again.badLines).toBe(1)
    expect(await all(again, { limit: 1_000, end: 'oldest' })).toEqual(written)
    expect(again.usageOf('P')).toBe(written.reduce((n, x) => n + Buffer.byteLength(JSON.stringify(x)) + 1, 0))
    await again.close()
  })

  it('counts each file\'s bytes to its own slot at start, even with a rotated file missing', async () => {
    const d = await dir()
    const opts = { dir: d, maxBytes: 1_000, keep: 3, peerShare: 1 }
    const onDisk = async (): Promise<number> => {
      let n = 0
      for (const f of await readdir(d)) n += (await stat(join(d, f))).size
      return n
    }
    const s = new LogStore(opts)
    await s.open()
    for (let i = 1; i <= 30; i++) await s.append('P', [e(i)])
    await s.close()
    expect((await readdir(d)).sort()).toEqual(['current.jsonl', 'log-1.jsonl', 'log-2.jsonl', 'log-3.jsonl'])
    // A gap: log-2 gone (a crash between renames), log-3 still there.
    await rm(join(d, 'log-2.jsonl'))
    const again = new LogStore(opts)
    await again.open()
    expect(again.usageOf('P')).toBe(await onDisk())
    // The next rotation drops log-3: its bytes, and only those, leave the count.
    let seq = 30
    const files = async (): Promise<string[]> => (await readdir(d)).sort()
    for (let i = 0; i < 20 && (await files()).includes('log-3.jsonl'); i++) await again.append('P', [e(++seq)])
    expect(await files()).toEqual(['current.jsonl', 'log-1.jsonl', 'log-2.jsonl'])
    expect(again.usageOf('P')).toBe(await onDisk())
    await again.close()
  })
})
