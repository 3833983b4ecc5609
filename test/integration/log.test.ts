import { afterEach, describe, expect, it } from 'vitest'
import { LogTap, createLogger } from '../../src/node/logger.js'
import { logService } from '../../src/services/log/index.js'
import { plainService } from '../../src/services/service/index.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import { readLog } from '../../src/node/log-reader.js'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { join } from 'node:path'
import { GdsNode } from '../../src/node/node.js'
import { createConfig, TEST_TIMINGS } from '../../src/node/config.js'
import { pickAddr } from '../../src/cli/format.js'

/** Every item of a streamed query. */
async function query (node: GdsNode, params: Record<string, unknown> = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const e of node.stream<LogEntry>('log', 'query', params)) out.push(e)
  return out
}

/** Appends, waiting as long as the log service asks when over the rate (bounded attempts). */
async function appendPaced (node: GdsNode, entries: LogEntry[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await node.call('log', 'append', { entries }, { attempts: 1 })
      return
    } catch (err: any) {
      if (err?.name !== 'QuotaExceededError' || err.data?.reason !== 'rate') throw err
      await new Promise(resolve => setTimeout(resolve, Math.min(2_000, err.data?.retryAfterMs ?? 100)))
    }
  }
  throw new Error('the log service never took the batch')
}

describe('the log role', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup (store: { maxBytes?: number, keep?: number } = {}) {
    const registry = await cluster.registry()
    const dir = join(await cluster.tempDir(), 'log')
    const log = await cluster.service(registry, 'log', [], {}, [logService({ dir, ...store })])
    const caller = await cluster.service(registry, 'caller', ['log'])
    await eventually(() => { expect(caller.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) })
    const entry = (seq: number, over: Partial<LogEntry> = {}): LogEntry =>
      ({ ts: Date.now(), level: 'info', service: 'caller', peerId: caller.peerId, msg: `m${seq}`, inc: 7, seq, ...over })
    return { registry, log, caller, dir, entry }
  }

  it('stores, answers queries (streamed, oldest first), and stores a resent batch once', async () => {
    const { caller, entry } = await setup()
    expect(await caller.call('log', 'append', { entries: [entry(1), entry(2), entry(3, { level: 'error', extra: { a: 1 } })] })).toEqual({ stored: 3, duplicates: 0 })
    expect(await caller.call('log', 'append', { entries: [entry(2), entry(3), entry(4)] })).toEqual({ stored: 1, duplicates: 2 })
    expect((await query(caller, { end: 'oldest' })).map(e => e.seq)).toEqual([1, 2, 3, 4])
    expect((await query(caller, { level: 'warn' })).map(e => [e.seq, e.extra])).toEqual([[3, { a: 1 }]])
    expect((await query(caller, { limit: 2 })).map(e => e.seq)).toEqual([3, 4])
  })

  it('stamps its own receive time as ts, keeps a plausible sender time as sentAt, and the peer id from the connection', async () => {
    const { caller, entry } = await setup()
    const before = Date.now()
    const sent = before - 5_000
    await caller.call('log', 'append', { entries: [entry(1, { ts: sent }), entry(2, { ts: 1_000 }), entry(3, { ts: before + 3_600_000 })] })
    const [a, b, c] = await query(caller, { end: 'oldest' })
    for (const e of [a, b, c]) {
      expect(e.ts).toBeGreaterThanOrEqual(before)
      expect(e.ts).toBeLessThanOrEqual(Date.now())
      expect(e.peerId).toBe(caller.peerId)
    }
    expect(a.sentAt).toBe(sent)
    expect(b.sentAt).toBeUndefined()
    expect(c.sentAt).toBeUndefined()
  })

  it('refuses a forged service, another peer\'s id, and malformed or oversized entries, storing nothing', async () => {
    const { registry, caller, log, entry } = await setup()
    const grading = await cluster.service(registry, 'grading', ['log'])
    await eventually(() => { expect(grading.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) })
    // A forged "grade removed" under grading, sent by a peer that does not provide grading.
    await expect(caller.call('log', 'append', { entries: [entry(1), entry(2, { service: 'grading', msg: 'grade removed' })] }))
      .rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('does not provide "grading"') })
    await expect(caller.call('log', 'append', { entries: [entry(1, { service: 'registry' })] })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await expect(caller.call('log', 'append', { entries: [entry(1, { service: 'nosuch' })] })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await expect(caller.call('log', 'append', { entries: [entry(1), entry(2, { peerId: log.peerId })] })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await expect(caller.call('log', 'append', { entries: [entry(1, { level: 'loud' as any })] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('log', 'append', { entries: [entry(1, { blob: 'x'.repeat(20_000) })] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('log', 'append', { entries: [] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('log', 'query', { limit: 10_001 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(query(caller, { limit: 10_001 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    expect(await query(caller, {})).toEqual([])
    // The real providers log under their names: grading as grading, the registry as registry.
    const g = { ts: Date.now(), level: 'info', service: 'grading', peerId: grading.peerId, msg: 'grade added', inc: 1, seq: 1 }
    expect(await grading.call('log', 'append', { entries: [g] })).toEqual({ stored: 1, duplicates: 0 })
    const r = { ts: Date.now(), level: 'info', service: 'registry', peerId: registry.peerId, msg: 'up grading', inc: 1, seq: 1 }
    expect(await registry.call('log', 'append', { entries: [r] })).toEqual({ stored: 1, duplicates: 0 })
    expect((await query(caller, { end: 'oldest' })).map(e => `${e.service} ${e.msg}`)).toEqual(['grading grade added', 'registry up grading'])
  })

  it('a flooding peer is held to its rate, then to its share of the storage, while another peer\'s entries survive', async () => {
    // Capacity 3 × 64 KiB; a quarter (48 KiB) each.
    const { registry, caller, entry } = await setup({ maxBytes: 64 * 1024, keep: 2 })
    const quiet = await cluster.service(registry, 'quiet', ['log'])
    await eventually(() => { expect(quiet.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) })
    const q = { ts: Date.now(), level: 'warn', service: 'quiet', peerId: quiet.peerId, msg: 'the one line that matters', inc: 1, seq: 1 }
    await quiet.call('log', 'append', { entries: [q] })
    // The rate: batches of ~900 KB as fast as they go; the 1 MiB burst cannot take three.
    const big = (seq: number): LogEntry => entry(seq, { blob: 'x'.repeat(15_000) })
    let rate: any
    let seq = 0
    for (let i = 0; i < 20 && rate === undefined; i++) {
      const batch = Array.from({ length: 60 }, () => big(++seq))
      await caller.call('log', 'append', { entries: batch }, { attempts: 1 }).catch(err => { rate = err })
    }
    expect(rate).toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', data: { reason: 'rate' } })
    expect(rate.data.retryAfterMs).toBeGreaterThan(0)
    // The storage share: paced to the rate, the flooder fills the log until it would rotate the quiet peer's line away.
    let share: any
    for (let i = 0; i < 100 && share === undefined; i++) {
      await appendPaced(caller, Array.from({ length: 4 }, () => big(++seq))).catch(err => { share = err })
    }
    expect(share).toMatchObject({ name: 'QuotaExceededError', data: { reason: 'share' }, message: expect.stringContaining('more than its share') })
    const kept = await query(caller, { limit: 10_000 })
    expect(kept.filter(e => e.peerId === quiet.peerId).map(e => e.msg)).toEqual(['the one line that matters'])
    expect(kept.filter(e => e.peerId === caller.peerId && e.seq === seq)).toEqual([])
    // The quiet peer still writes.
    expect(await quiet.call('log', 'append', { entries: [{ ...q, seq: 2 }] })).toEqual({ stored: 1, duplicates: 0 })
  })

  it('answers -n 5000 (far more than one 1 MiB frame) through the reader, oldest first', async () => {
    const { caller, entry } = await setup()
    for (let b = 0; b < 6; b++) await appendPaced(caller, Array.from({ length: 1_000 }, (_, i) => entry(b * 1_000 + i + 1, { msg: `m${b * 1_000 + i + 1} ${'y'.repeat(300)}` })))
    const got: LogEntry[] = []
    for await (const e of readLog(caller, {}, { limit: 5_000, now: Date.now })) got.push(e as LogEntry)
    expect(got).toHaveLength(5_000)
    expect(got.map(e => e.seq)).toEqual(Array.from({ length: 5_000 }, (_, i) => 1_001 + i))
    expect(JSON.stringify(got).length).toBeGreaterThan(1024 * 1024)
  })

  it('refuses scans beyond its limit as busy, and still answers afterwards', async () => {
    const { caller, entry } = await setup()
    await caller.call('log', 'append', { entries: Array.from({ length: 500 }, (_, i) => entry(i + 1)) })
    const results = await Promise.allSettled(Array.from({ length: 30 }, async () => query(caller, { limit: 500 })))
    const refused = results.filter(r => r.status === 'rejected')
    // 30 sent at once on one stream: more than the 2 scans a peer may run at a time.
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'OVERLOADED' })
    for (const r of results) if (r.status === 'fulfilled') expect(r.value).toHaveLength(500)
    expect(results.some(r => r.status === 'fulfilled')).toBe(true)
    expect(await query(caller, { limit: 500 })).toHaveLength(500)
  })

  it('follow replays since a time, then streams live entries, and stops when the reader does', async () => {
    const { caller, entry } = await setup()
    await caller.call('log', 'append', { entries: [entry(1)] })
    const [first] = await query(caller)
    await caller.call('log', 'append', { entries: [entry(2)] })
    const [, second] = await query(caller)
    expect(second.ts).toBeGreaterThanOrEqual(first.ts)
    const seen: number[] = []
    const reading = (async () => {
      for await (const e of caller.stream<LogEntry>('log', 'follow', { since: second.ts })) {
        seen.push(e.seq)
        if (seen.length >= 3 && seen.includes(4)) break
      }
    })()
    await eventually(() => { expect(seen).toContain(2) })
    await caller.call('log', 'append', { entries: [entry(3), entry(4)] })
    await reading
    expect(seen.slice(-3)).toEqual([2, 3, 4])
  })

  it('survives a restart: entries are on disk and duplicates are still recognised', async () => {
    const { registry, log, caller, dir, entry } = await setup()
    await caller.call('log', 'append', { entries: [entry(1), entry(2)] })
    await log.stop()
    await cluster.service(registry, 'log', [], {}, [logService({ dir })])
    await eventually(async () => {
      expect(await caller.call('log', 'append', { entries: [entry(2), entry(3)] }, { idempotent: true })).toEqual({ stored: 1, duplicates: 1 })
    })
    expect((await query(caller, { end: 'oldest' })).map(e => e.seq)).toEqual([1, 2, 3])
  })

  it('ships every node\'s log; entries logged while no log service is up arrive later, none lost, none twice', async () => {
    const registry = await cluster.registry()
    const tap = new LogTap()
    const logger = createLogger('silent', { name: 'chatty' }, tap)
    const dataDir = await cluster.tempDir()
    const chatty = new GdsNode({
      config: createConfig({ ...TEST_TIMINGS, role: 'service', name: 'chatty', registry: pickAddr(registry.addrs), listen: ['/ip4/127.0.0.1/tcp/0'], dataDir }),
      services: [plainService('chatty', [])],
      log: logger,
      logTap: tap
    })
    await chatty.start()
    cluster.nodes.push(chatty)
    for (let i = 0; i < 50; i++) logger.info({ i }, 'before the log service')
    await cluster.service(registry, 'log', [], {}, [logService({ dir: join(await cluster.tempDir(), 'log') })])
    for (let i = 0; i < 50; i++) logger.info({ i }, 'after')
    const reader = await cluster.service(registry, 'reader', ['log'])
    await eventually(async () => {
      const entries = await query(reader, { service: 'chatty', limit: 1000, end: 'oldest' })
      expect(entries.filter(e => e.msg === 'before the log service')).toHaveLength(50)
      expect(entries.filter(e => e.msg === 'after')).toHaveLength(50)
      expect(new Set(entries.map(e => e.seq)).size).toBe(entries.length)
      expect(entries.filter(e => e.msg === 'after').map(e => e.i)).toEqual(Array.from({ length: 50 }, (_, i) => i))
      // Delivered batches leave the buffer: the store dropping resent duplicates would hide a shipper that resends forever.
      expect(chatty.logShipping?.buffered).toBe(0)
      expect(chatty.logShipping?.shipped).toBeGreaterThanOrEqual(100)
    }, 20_000)
    expect(chatty.logShipping?.dropped).toBe(0)
    expect(chatty.logShipping?.rejected).toBe(0)
  })

  it('a node whose entries are refused for good drops them, counts them, warns once, and keeps running', async () => {
    const registry = await cluster.registry()
    await cluster.service(registry, 'log', [], {}, [logService({ dir: join(await cluster.tempDir(), 'log') })])
    const tap = new LogTap()
    const logger = createLogger('silent', { name: 'liar' }, tap)
    const warnings: string[] = []
    const write = tap.write.bind(tap)
    tap.write = line => { const o = JSON.parse(line); if (o.level === 'warn') warnings.push(o.msg); write(line) }
    // A node that calls itself "grading" but provides nothing: it ships its log as grading.
    const liar = new GdsNode({
      config: createConfig({ ...TEST_TIMINGS, role: 'service', name: 'grading', registry: pickAddr(registry.addrs), listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await cluster.tempDir() }),
      services: [],
      log: logger,
      logTap: tap
    })
    await liar.start()
    cluster.nodes.push(liar)
    for (let i = 0; i < 20; i++) logger.info({ i }, 'forged')
    await eventually(() => { expect(liar.logShipping?.rejected).toBeGreaterThanOrEqual(20) }, 20_000)
    expect(liar.logShipping?.shipped).toBe(0)
    expect(warnings.filter(w => w.includes('refuses this node'))).toHaveLength(1)
    for (let i = 0; i < 20; i++) logger.info({ i }, 'forged again')
    await eventually(() => { expect(liar.logShipping?.buffered).toBe(0) }, 20_000)
    expect(warnings.filter(w => w.includes('refuses this node'))).toHaveLength(1)
    expect(await query(liar, { limit: 1000 })).toEqual([])
  })
})
