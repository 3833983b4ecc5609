import { describe, expect, it } from 'vitest'
import { readLog } from '../../src/node/log-reader.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import { ServiceNotFoundError } from '../../src/node/errors.js'

const entry = (ts: number, seq: number, peerId = 'p1', msg = `m${seq}`): LogEntry => ({ ts, level: 'info', service: 'demo', peerId, msg, inc: 1, seq })

interface Fake {
  client: Parameters<typeof readLog>[0]
  queries: unknown[]
  follows: Array<{ params: any, signal?: AbortSignal }>
}

/** The log service: `query` answers `past` newest first (as it does for order desc); `follow` yields `live`, then waits or fails. */
function fakeLog (past: LogEntry[], live: LogEntry[] = [], end: 'wait' | 'fail' = 'wait'): Fake {
  const fake: Fake = { queries: [], follows: [], client: undefined as any }
  fake.client = {
    call: async (service: string, method: string, params?: unknown) => {
      fake.queries.push({ service, method, params })
      return { entries: [...past].reverse() } as any
    },
    stream: (async function * (service: string, method: string, params?: any, opts?: { signal?: AbortSignal }) {
      fake.follows.push({ params, signal: opts?.signal })
      yield * live
      if (end === 'fail') throw new Error('stream reset')
      await new Promise((resolve, reject) => {
        if (opts?.signal?.aborted === true) reject(new Error('cancelled'))
        opts?.signal?.addEventListener('abort', () => { reject(new Error('cancelled')) })
      })
    }) as any
  }
  return fake
}

async function collect (items: AsyncIterable<LogEntry>, stopAfter?: { n: number, ac: AbortController }): Promise<string[]> {
  const out: string[] = []
  for await (const e of items) {
    out.push(e.msg)
    if (stopAfter !== undefined && out.length === stopAfter.n) stopAfter.ac.abort()
  }
  return out
}

describe('readLog: query, then follow', () => {
  it('gives the newest entries oldest first, and does not follow unless asked', async () => {
    const fake = fakeLog([entry(1, 1), entry(2, 2), entry(3, 3)])
    expect(await collect(readLog(fake.client, { service: 'demo', level: 'warn' }, { limit: 3, now: () => 0 }))).toEqual(['m1', 'm2', 'm3'])
    expect(fake.queries).toEqual([{ service: 'log', method: 'query', params: { service: 'demo', level: 'warn', limit: 3, order: 'desc' } }])
    expect(fake.follows).toEqual([])
  })

  it('follows from the last entry shown, skipping only the ones of that millisecond already shown', async () => {
    const fake = fakeLog([entry(10, 1), entry(20, 2), entry(20, 3)], [entry(20, 2), entry(20, 3), entry(20, 1, 'p2', 'other peer, same ms'), entry(25, 4)])
    const ac = new AbortController()
    const shown = await collect(readLog(fake.client, { level: 'info' }, { limit: 3, follow: ac.signal, now: () => 999 }), { n: 5, ac })
    expect(shown).toEqual(['m1', 'm2', 'm3', 'other peer, same ms', 'm4'])
    expect(fake.follows).toHaveLength(1)
    expect(fake.follows[0].params).toEqual({ level: 'info', since: 20 })
    expect(fake.follows[0].signal).toBe(ac.signal)
  })

  it('follows from now when there is nothing yet, and ends quietly when the signal aborts', async () => {
    const fake = fakeLog([], [entry(1000, 1)])
    const ac = new AbortController()
    expect(await collect(readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 1000 }), { n: 1, ac })).toEqual(['m1'])
    expect(fake.follows[0].params).toEqual({ since: 1000 })
  })

  it('interrupted before the follow began: the past entries, and no follow', async () => {
    const fake = fakeLog([entry(1, 1)], [entry(2, 2)])
    const ac = new AbortController()
    ac.abort()
    expect(await collect(readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 0 }))).toEqual(['m1'])
    expect(fake.follows).toEqual([])
  })

  it('a stream that fails while following is an error; no log service is one that says so', async () => {
    const failing = fakeLog([], [], 'fail')
    await expect(collect(readLog(failing.client, {}, { limit: 1, follow: new AbortController().signal, now: () => 0 }))).rejects.toThrow('stream reset')
    const none = fakeLog([])
    none.client.call = async () => { throw new ServiceNotFoundError('log') }
    await expect(collect(readLog(none.client, {}, { limit: 1, now: () => 0 }))).rejects.toMatchObject({
      name: 'ServiceNotFoundError',
      message: 'service "log" is not available: no log service is up (start one: gds node start --role log)'
    })
  })
})
