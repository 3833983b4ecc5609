import { describe, expect, it } from 'vitest'
import { isNotice, readLog, type FollowNotice } from '../../src/node/log-reader.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import { InvalidParamsError, PeerUnavailableError, ServiceNotFoundError } from '../../src/node/errors.js'

const entry = (ts: number, seq: number, peerId = 'p1', msg = `m${seq}`): LogEntry => ({ ts, level: 'info', service: 'demo', peerId, msg, inc: 1, seq })

/** One follow stream of the fake: what it yields, then how it ends. */
interface Session { live: LogEntry[], end: 'wait' | Error }

interface Fake {
  client: Parameters<typeof readLog>[0]
  queries: unknown[]
  follows: Array<{ params: any, signal?: AbortSignal }>
}

/**
 * The log service: `query` streams `past` (the newest `limit`, oldest first); each `follow`
 * plays the next session (the last one repeats), and a `query` fails while `down()` says so.
 */
function fakeLog (past: LogEntry[], sessions: Session[] = [{ live: [], end: 'wait' }], down: () => Error | undefined = () => undefined): Fake {
  const fake: Fake = { queries: [], follows: [], client: undefined as any }
  fake.client = {
    stream: (async function * (service: string, method: string, params?: any, opts?: { signal?: AbortSignal }) {
      if (method === 'query') {
        fake.queries.push({ service, method, params })
        const err = down()
        if (err !== undefined) throw err
        yield * past.slice(-params.limit)
        return
      }
      const session = sessions[Math.min(fake.follows.length, sessions.length - 1)]
      fake.follows.push({ params, signal: opts?.signal })
      yield * session.live
      if (session.end !== 'wait') throw session.end
      await new Promise((resolve, reject) => {
        if (opts?.signal?.aborted === true) reject(new Error('cancelled'))
        opts?.signal?.addEventListener('abort', () => { reject(new Error('cancelled')) })
      })
    }) as any
  }
  return fake
}

type Item = LogEntry | FollowNotice

async function collect (items: AsyncIterable<Item>, stopAfter?: { n: number, ac: AbortController }): Promise<string[]> {
  const out: string[] = []
  for await (const e of items) {
    out.push(isNotice(e) ? e.event : e.msg)
    if (stopAfter !== undefined && out.filter(x => !x.startsWith('follow-')).length === stopAfter.n) stopAfter.ac.abort()
  }
  return out
}

const fast = { minDelayMs: 1, maxDelayMs: 5, random: () => 0.5 }

describe('readLog: query, then follow', () => {
  it('gives the newest entries oldest first (streamed), and does not follow unless asked', async () => {
    const fake = fakeLog([entry(1, 1), entry(2, 2), entry(3, 3), entry(4, 4)])
    expect(await collect(readLog(fake.client, { service: 'demo', level: 'warn' }, { limit: 3, now: () => 0 }))).toEqual(['m2', 'm3', 'm4'])
    expect(fake.queries).toEqual([{ service: 'log', method: 'query', params: { service: 'demo', level: 'warn', limit: 3, end: 'newest' } }])
    expect(fake.follows).toEqual([])
  })

  it('follows from the last entry shown, skipping only the ones of that millisecond already shown', async () => {
    const fake = fakeLog([entry(10, 1), entry(20, 2), entry(20, 3)], [{ live: [entry(20, 2), entry(20, 3), entry(20, 1, 'p2', 'other peer, same ms'), entry(25, 4)], end: 'wait' }])
    const ac = new AbortController()
    const shown = await collect(readLog(fake.client, { level: 'info' }, { limit: 3, follow: ac.signal, now: () => 999 }), { n: 5, ac })
    expect(shown).toEqual(['m1', 'm2', 'm3', 'other peer, same ms', 'm4'])
    expect(fake.follows).toHaveLength(1)
    expect(fake.follows[0].params).toEqual({ level: 'info', since: 20 })
    expect(fake.follows[0].signal).toBe(ac.signal)
  })

  it('follows from now when there is nothing yet, and ends quietly when the signal aborts', async () => {
    const fake = fakeLog([], [{ live: [entry(1000, 1)], end: 'wait' }])
    const ac = new AbortController()
    expect(await collect(readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 1000 }), { n: 1, ac })).toEqual(['m1'])
    expect(fake.follows[0].params).toEqual({ since: 1000 })
  })

  it('interrupted before the follow began: the past entries, and no follow', async () => {
    const fake = fakeLog([entry(1, 1)], [{ live: [entry(2, 2)], end: 'wait' }])
    const ac = new AbortController()
    ac.abort()
    expect(await collect(readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 0 }))).toEqual(['m1'])
    expect(fake.follows).toEqual([])
  })

  it('through a restart of the log service: says it lost the stream once, retries, says it is back, resumes with nothing twice', async () => {
    let downFor = 3
    const lost = new PeerUnavailableError('rpc stream to 12D3KooW closed: Unexpected EOF')
    const fake = fakeLog([entry(10, 1)], [
      { live: [entry(20, 2), entry(30, 3)], end: lost },
      // The restarted service replays since the last entry shown (30), that entry included.
      { live: [entry(30, 3), entry(30, 1, 'p2', 'same ms, new'), entry(40, 4)], end: 'wait' }
    ], () => fake.follows.length === 1 && downFor-- > 0 ? new ServiceNotFoundError('log') : undefined)
    const ac = new AbortController()
    let t = 0
    const shown = await collect(readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => (t += 100), ...fast }), { n: 5, ac })
    expect(shown).toEqual(['m1', 'm2', 'm3', 'follow-lost', 'follow-resumed', 'same ms, new', 'm4'])
    expect(fake.follows.map(f => f.params)).toEqual([{ since: 10 }, { since: 30 }])
    // The probes while it was down: one per attempt, each failing, then the one that succeeded.
    expect(fake.queries).toHaveLength(1 + 3 + 1)
  })

  it('a stream the service ends counts as lost too, and the notice carries the cause', async () => {
    const fake = fakeLog([], [{ live: [entry(5, 1)], end: new PeerUnavailableError('gone') }, { live: [entry(6, 2)], end: 'wait' }])
    const ac = new AbortController()
    const items: Item[] = []
    for await (const i of readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 0, ...fast })) {
      items.push(i)
      if (!isNotice(i) && i.seq === 2) ac.abort()
    }
    expect(items.filter(isNotice)).toEqual([{ event: 'follow-lost', error: 'gone' }, { event: 'follow-resumed', afterMs: 0 }])
  })

  it('an error no retry can mend ends the follow; no log service at the start is an error that says so', async () => {
    const bad = fakeLog([], [{ live: [], end: new InvalidParamsError('log.follow: level: bad') }])
    await expect(collect(readLog(bad.client, {}, { limit: 1, follow: new AbortController().signal, now: () => 0, ...fast }))).rejects.toMatchObject({ name: 'InvalidParamsError' })
    const none = fakeLog([], undefined, () => new ServiceNotFoundError('log'))
    await expect(collect(readLog(none.client, {}, { limit: 1, now: () => 0 }))).rejects.toMatchObject({
      name: 'ServiceNotFoundError',
      message: 'service "log" is not available: no log service is up (start one: gds node start --role log)'
    })
  })

  it('a follow started while no log service is up waits for one, then shows the past and what comes', async () => {
    let down = 2
    const fake = fakeLog([entry(10, 1), entry(20, 2)], [{ live: [entry(20, 2), entry(30, 3)], end: 'wait' }], () => down-- > 0 ? new ServiceNotFoundError('log') : undefined)
    const ac = new AbortController()
    const items: Item[] = []
    for await (const i of readLog(fake.client, {}, { limit: 10, follow: ac.signal, now: () => 0, ...fast })) {
      items.push(i)
      if (!isNotice(i) && i.seq === 3) ac.abort()
    }
    expect(items.map(i => isNotice(i) ? i.event : i.msg)).toEqual(['follow-lost', 'follow-resumed', 'm1', 'm2', 'm3'])
    expect(items[0]).toMatchObject({ error: expect.stringContaining('no log service is up (start one: gds node start --role log)') })
    expect(fake.follows.map(f => f.params)).toEqual([{ since: 20 }])
  })

  it('Ctrl-C while waiting to reconnect ends it quietly', async () => {
    const fake = fakeLog([], [{ live: [], end: new PeerUnavailableError('gone') }], () => fake.follows.length > 0 ? new ServiceNotFoundError('log') : undefined)
    const ac = new AbortController()
    const items: string[] = []
    for await (const i of readLog(fake.client, {}, { limit: 1, follow: ac.signal, now: () => 0, minDelayMs: 50, maxDelayMs: 50, random: () => 0 })) {
      items.push(isNotice(i) ? i.event : i.msg)
      ac.abort()
    }
    expect(items).toEqual(['follow-lost'])
  })
})
