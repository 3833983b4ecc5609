import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LogStore } from '../../src/services/log/store.js'
import type { LogEntry } from '../../src/node/log-shipper.js'

const e = (seq: number, over: Partial<LogEntry> = {}): LogEntry => ({ ts: seq, level: 'info', service: 's', peerId: 'P', msg: 'x'.repeat(100), inc: 1, seq, ...over })

describe('log store', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }))) })
  const dir = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'gds-logstore-')); dirs.push(d); return d }

  it('rotates past the size limit, keeps the newest files, and queries across them', async () => {
    const d = await dir()
    const s = new LogStore({ dir: d, maxBytes: 2_000, keep: 2 })
    await s.open()
    for (let i = 1; i <= 100; i++) await s.append([e(i)])
    await s.close()
    const files = (await readdir(d)).sort()
    expect(files).toEqual(['current.jsonl', 'log-1.jsonl', 'log-2.jsonl'])
    const again = new LogStore({ dir: d, maxBytes: 2_000, keep: 2 })
    await again.open()
    const all = await again.query({ limit: 10_000, order: 'asc' })
    expect(all.at(-1)?.seq).toBe(100)
    expect(all.map(x => x.seq)).toEqual(all.map(x => x.seq).sort((a, b) => a - b))
    // Old entries rotated away are gone, but their high-water mark of what is kept still dedups.
    expect(await again.append([e(100), e(101)])).toEqual({ stored: 1, duplicates: 1 })
    await again.close()
  })

  it('skips a torn or foreign line at open and counts it, without losing the rest', async () => {
    const d = await dir()
    const s = new LogStore({ dir: d })
    await s.open()
    await s.append([e(1), e(2)])
    await s.close()
    await appendFile(join(d, 'current.jsonl'), 'not json at all\n{"ts": 3, "lev')
    const again = new LogStore({ dir: d })
    await again.open()
    expect(again.badLines).toBe(2)
    expect((await again.query({ order: 'asc' })).map(x => x.seq)).toEqual([1, 2])
    expect(await again.append([e(3)])).toEqual({ stored: 1, duplicates: 0 })
    await again.close()
    const third = new LogStore({ dir: d })
    await third.open()
    expect((await third.query({ order: 'asc' })).map(x => x.seq)).toEqual([1, 2, 3])
    await third.close()
  })
})
