import { afterEach, describe, expect, it } from 'vitest'
import { LogTap, createLogger } from '../../src/node/logger.js'
import { logService } from '../../src/services/log/index.js'
import { plainService } from '../../src/services/service/index.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { join } from 'node:path'
import { GdsNode } from '../../src/node/node.js'
import { createConfig, TEST_TIMINGS } from '../../src/node/config.js'
import { pickAddr } from '../../src/cli/format.js'

describe('the log role', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup () {
    const registry = await cluster.registry()
    const dir = join(await cluster.tempDir(), 'log')
    const log = await cluster.service(registry, 'log', [], {}, [logService({ dir })])
    const caller = await cluster.service(registry, 'caller', ['log'])
    await eventually(() => { expect(caller.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) })
    const entry = (seq: number, over: Partial<LogEntry> = {}): LogEntry =>
      ({ ts: 1_000 + seq, level: 'info', service: 'caller', peerId: caller.peerId, msg: `m${seq}`, inc: 7, seq, ...over })
    return { registry, log, caller, dir, entry }
  }

  it('stores, answers queries, and stores a resent batch once', async () => {
    const { caller, entry } = await setup()
    expect(await caller.call('log', 'append', { entries: [entry(1), entry(2), entry(3, { level: 'error', extra: { a: 1 } })] })).toEqual({ stored: 3, duplicates: 0 })
    expect(await caller.call('log', 'append', { entries: [entry(2), entry(3), entry(4)] })).toEqual({ stored: 1, duplicates: 2 })
    const all = await caller.call<{ entries: LogEntry[] }>('log', 'query', { order: 'asc' })
    expect(all.entries.map(e => e.seq)).toEqual([1, 2, 3, 4])
    const errors = await caller.call<{ entries: LogEntry[] }>('log', 'query', { level: 'warn' })
    expect(errors.entries).toEqual([entry(3, { level: 'error', extra: { a: 1 } })])
    const newest = await caller.call<{ entries: LogEntry[] }>('log', 'query', { limit: 2 })
    expect(newest.entries.map(e => e.seq)).toEqual([4, 3])
  })

  it('refuses entries claiming another peer, and malformed ones, storing nothing', async () => {
    const { caller, log, entry } = await setup()
    await expect(caller.call('log', 'append', { entries: [entry(1), entry(2, { peerId: log.peerId })] })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await expect(caller.call('log', 'append', { entries: [entry(1, { level: 'loud' as any })] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('log', 'append', { entries: [entry(1, { blob: 'x'.repeat(20_000) })] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('log', 'append', { entries: [] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    expect((await caller.call<{ entries: LogEntry[] }>('log', 'query', {})).entries).toEqual([])
  })

  it('follow replays since a time, then streams live entries, and stops when the reader does', async () => {
    const { caller, entry } = await setup()
    await caller.call('log', 'append', { entries: [entry(1), entry(2)] })
    const seen: number[] = []
    const reading = (async () => {
      for await (const e of caller.stream<LogEntry>('log', 'follow', { since: 1_002 })) {
        seen.push(e.seq)
        if (seen.length === 3) break
      }
    })()
    await eventually(() => { expect(seen).toEqual([2]) })
    await caller.call('log', 'append', { entries: [entry(3), entry(4)] })
    await reading
    expect(seen).toEqual([2, 3, 4])
  })

  it('survives a restart: entries are on disk and duplicates are still recognised', async () => {
    const { registry, log, caller, dir, entry } = await setup()
    await caller.call('log', 'append', { entries: [entry(1), entry(2)] })
    await log.stop()
    await cluster.service(registry, 'log', [], {}, [logService({ dir })])
    await eventually(async () => {
      expect(await caller.call('log', 'append', { entries: [entry(2), entry(3)] }, { idempotent: true })).toEqual({ stored: 1, duplicates: 1 })
    })
    expect((await caller.call<{ entries: LogEntry[] }>('log', 'query', { order: 'asc' })).entries.map(e => e.seq)).toEqual([1, 2, 3])
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
      const { entries } = await reader.call<{ entries: LogEntry[] }>('log', 'query', { service: 'chatty', limit: 1000, order: 'asc' }, { idempotent: true })
      expect(entries.filter(e => e.msg === 'before the log service')).toHaveLength(50)
      expect(entries.filter(e => e.msg === 'after')).toHaveLength(50)
      expect(new Set(entries.map(e => e.seq)).size).toBe(entries.length)
      expect(entries.filter(e => e.msg === 'after').map(e => e.i)).toEqual(Array.from({ length: 50 }, (_, i) => i))
      // Delivered batches leave the buffer: the store dropping resent duplicates would hide a shipper that resends forever.
      expect(chatty.logShipping?.buffered).toBe(0)
      expect(chatty.logShipping?.shipped).toBeGreaterThanOrEqual(100)
    }, 20_000)
    expect(chatty.logShipping?.dropped).toBe(0)
  })
})
