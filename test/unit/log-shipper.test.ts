import { describe, expect, it } from 'vitest'
import { LogShipper, MAX_ENTRY_BYTES, type LogEntry } from '../../src/node/log-shipper.js'
import { eventually } from '../helpers/nodes.js'
import { QuotaExceededError, UnauthorizedError } from '../../src/node/errors.js'

const line = (msg: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ level: 'info', time: 1000, pid: 7, name: 'demo', msg, ...extra })

function shipper (send: (e: LogEntry[]) => Promise<void>, maxBuffer = 100) {
  const drops: number[] = []
  const s = new LogShipper({ peerId: 'P', incarnation: 42, service: 'demo', send, maxBuffer, maxBatch: 10, retryMinMs: 1, retryMaxMs: 5, onDrop: n => { drops.push(n) } })
  return { s, drops }
}

describe('log shipper', () => {
  it('maps pino lines to entries with (peerId, inc, seq) and keeps extra fields', async () => {
    const got: LogEntry[] = []
    const { s } = shipper(async e => { got.push(...e) })
    s.push(line('hello', { component: 'rpc', studentId: 3 }))
    s.push('not json')
    await eventually(() => { expect(got).toHaveLength(1) })
    expect(got[0]).toEqual({ ts: 1000, level: 'info', service: 'demo', peerId: 'P', msg: 'hello', inc: 42, seq: 1, pid: 7, component: 'rpc', studentId: 3 })
  })

  it('keeps entries while sending fails and delivers all of them, in order, once', async () => {
    const stored: number[] = []
    let failures = 5
    const { s } = shipper(async e => {
      if (failures-- > 0) throw new Error('no log provider')
      stored.push(...e.map(x => x.seq))
    })
    for (let i = 0; i < 35; i++) s.push(line(`m${i}`))
    await eventually(() => { expect(stored).toHaveLength(35) })
    expect(stored).toEqual(Array.from({ length: 35 }, (_, i) => i + 1))
    expect(s.shipped).toBe(35)
    expect(s.dropped).toBe(0)
  })

  it('bounds the buffer: the oldest are dropped, counted and reported once per episode', async () => {
    let open = false
    const stored: number[] = []
    const { s, drops } = shipper(async e => {
      if (!open) throw new Error('down')
      stored.push(...e.map(x => x.seq))
    }, 20)
    for (let i = 0; i < 50; i++) s.push(line(`m${i}`))
    expect(s.dropped).toBe(30)
    expect(s.buffered).toBe(20)
    expect(drops).toEqual([1])
    open = true
    await eventually(() => { expect(stored).toHaveLength(20) })
    expect(stored[0]).toBe(31)
  })

  it('cuts an oversized entry down to its message', async () => {
    const got: LogEntry[] = []
    const { s } = shipper(async e => { got.push(...e) })
    s.push(line('big', { blob: 'x'.repeat(MAX_ENTRY_BYTES) }))
    await eventually(() => { expect(got).toHaveLength(1) })
    expect(got[0]).toMatchObject({ msg: 'big', truncated: true })
    expect(got[0].blob).toBeUndefined()
  })

  it('a batch the log service refuses for good is dropped and counted, said once, and later entries still go', async () => {
    const stored: number[] = []
    const rejects: Array<[number, string]> = []
    let refuse = 2
    const s = new LogShipper({
      peerId: 'P', incarnation: 1, service: 'demo', maxBatch: 5, retryMinMs: 1, retryMaxMs: 5,
      send: async e => {
        if (refuse-- > 0) throw new UnauthorizedError('peer P does not provide "demo"')
        stored.push(...e.map(x => x.seq))
      },
      onReject: (n, reason) => { rejects.push([n, reason]) }
    })
    for (let i = 0; i < 12; i++) s.push(line(`m${i}`))
    await eventually(() => { expect(s.buffered).toBe(0) })
    expect(stored).toEqual([11, 12])
    expect(s.rejected).toBe(10)
    expect(rejects).toEqual([[5, 'peer P does not provide "demo"']])
    expect(s.shipped).toBe(2)
  })

  it('over its quota it waits as long as the log service asks, keeping every entry, then delivers them once', async () => {
    const sent: number[] = []
    const stored: number[] = []
    let refusals = 2
    const s = new LogShipper({
      peerId: 'P', incarnation: 1, service: 'demo', maxBatch: 100, retryMinMs: 1, retryMaxMs: 2,
      send: async e => {
        sent.push(Date.now())
        if (refusals-- > 0) throw new QuotaExceededError('too fast', { reason: 'rate', retryAfterMs: 60 })
        stored.push(...e.map(x => x.seq))
      }
    })
    for (let i = 0; i < 10; i++) s.push(line(`m${i}`))
    await eventually(() => { expect(stored).toHaveLength(10) })
    expect(stored).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    // A back-off of 1-2 ms would have retried at once: the wait asked for was honoured (timers fire no earlier).
    expect(sent[1] - sent[0]).toBeGreaterThanOrEqual(55)
    expect(s.rejected).toBe(0)
    expect(s.dropped).toBe(0)
  })

  it('cuts batches by size too, so a batch always fits one rpc frame', async () => {
    const sizes: number[] = []
    const s = new LogShipper({ peerId: 'P', incarnation: 1, service: 'demo', maxBatch: 500, send: async e => { sizes.push(JSON.stringify(e).length) } })
    for (let i = 0; i < 100; i++) s.push(line('big', { blob: 'x'.repeat(12_000) }))
    await eventually(() => { expect(s.buffered).toBe(0) })
    expect(sizes.length).toBeGreaterThan(2)
    expect(s.shipped).toBe(100)
    for (const n of sizes) expect(n).toBeLessThanOrEqual(512 * 1024)
  })
})
