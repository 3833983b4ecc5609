import { afterEach, describe, expect, it, vi } from 'vitest'
import { CatalogFeed, type CatalogFeedInit, type CatalogSnapshot, type WatchSource } from '../../src/node/catalog-feed.js'
import type { ListResult, ProviderRecord, WatchMessage } from '../../src/node/schemas.js'

const REGISTRY = { peerId: 'reg', addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/reg'] }

function record (name: string, peerId: string, status: ProviderRecord['status'] = 'up'): ProviderRecord {
  return { name, peerId, addrs: [`/ip4/10.0.0.1/tcp/1/p2p/${peerId}`, `/ip4/127.0.0.1/tcp/1/p2p/${peerId}`], requires: [], version: '1.0.0', meta: {}, incarnation: 1, seq: 0, status }
}

const snapshot = (services: ProviderRecord[], ts = 1): WatchMessage => ({ type: 'snapshot', ts, registry: REGISTRY, services })
const change = (r: ProviderRecord, previous: ProviderRecord['status'], ts = 2): WatchMessage => ({ type: 'change', ts, record: r, previous })

/**
 * One scripted connection: the registry's watch yields `messages`, then fails (the registry
 * went away) unless it is told to hang until aborted; `refuse` fails the connect itself.
 */
type Script = { messages: WatchMessage[], then: 'fail' | 'hang' } | 'refuse'

/** A fake connection factory: registry sessions follow `scripts` in turn; peers answer `peers`. */
function fakeConnect (scripts: Script[], peers: Record<string, ListResult> = {}): { connect: CatalogFeedInit['connect'], calls: Array<string | undefined>, closed: () => number } {
  const calls: Array<string | undefined> = []
  let closed = 0
  const connect = async (peerAddr?: string): Promise<WatchSource> => {
    calls.push(peerAddr)
    const script = peerAddr === undefined ? scripts.shift() ?? 'refuse' : undefined
    if (script === 'refuse' || (peerAddr !== undefined && peers[peerAddr] === undefined)) throw Object.assign(new Error('connection refused'), { name: 'RegistryUnreachableError' })
    return {
      async * watch (signal?: AbortSignal) {
        if (script === undefined) throw new Error('a peer has no watch')
        yield * script.messages
        if (script.then === 'fail') throw Object.assign(new Error('the registry closed the watch stream'), { name: 'RegistryUnreachableError' })
        await new Promise(resolve => signal?.addEventListener('abort', resolve))
      },
      list: async () => peers[peerAddr ?? ''],
      close: async () => { closed++ }
    }
  }
  return { connect, calls, closed: () => closed }
}

const states = (s: CatalogSnapshot | undefined): string => [...(s?.view.services.values() ?? [])].map(r => `${r.name}:${r.status}`).sort().join(',')

describe('CatalogFeed: one reconnecting watch loop', () => {
  let feed: CatalogFeed | undefined
  afterEach(() => { feed?.stop() })

  function start (init: Omit<CatalogFeedInit, 'now' | 'random'> & Partial<CatalogFeedInit>): CatalogSnapshot[] {
    feed = new CatalogFeed({ now: () => 42, random: () => 0.5, coalesceMs: 5, minDelayMs: 5, maxDelayMs: 20, ...init })
    const seen: CatalogSnapshot[] = []
    feed.subscribe(s => { seen.push(s) })
    feed.start()
    return seen
  }

  it('follows the watch stream: a snapshot, then each change, coalesced into few updates', async () => {
    const burst = Array.from({ length: 50 }, (_, i) => change({ ...record('log', 'p1', i % 2 === 0 ? 'suspect' : 'up'), seq: i + 1 }, i % 2 === 0 ? 'up' : 'suspect', 10 + i))
    const { connect, calls } = fakeConnect([{ messages: [snapshot([record('log', 'p1')]), ...burst, change(record('demo', 'p2'), 'down', 99)], then: 'hang' }])
    const seen = start({ connect })
    await expect.poll(() => states(seen.at(-1))).toBe('demo:up,log:up')
    expect(seen.at(-1)?.connection).toBe('connected')
    expect(seen.at(-1)?.view.events[0]).toMatchObject({ event: 'provider-up', name: 'demo', ts: 99 })
    // 52 messages arrived in one burst: far fewer updates.
    expect(seen.length).toBeLessThan(5)
    expect(calls).toEqual([undefined])
  })

  it('while reconnecting, says why the last attempt failed and since when; connected again, neither', async () => {
    let t = 100
    const { connect } = fakeConnect(['refuse', 'refuse', { messages: [snapshot([record('log', 'p1')])], then: 'hang' }])
    const seen = start({ connect, now: () => t++ })
    await expect.poll(() => seen.at(-1)?.connection).toBe('connected')
    const away = seen.filter(s => s.connection === 'reconnecting')
    expect(away.length).toBeGreaterThan(0)
    // Since the first failure, not the latest retry.
    for (const s of away) expect(s).toMatchObject({ lastError: 'connection refused', since: 100 })
    expect(seen.at(-1)?.lastError).toBeUndefined()
    expect(seen.at(-1)?.since).toBeUndefined()
  })

  it('reconnects with back-off when the stream breaks, keeping the last view meanwhile', async () => {
    const random = vi.fn(() => 0)
    const mathRandom = vi.spyOn(Math, 'random')
    const { connect, calls, closed } = fakeConnect([
      { messages: [snapshot([record('log', 'p1')])], then: 'fail' },
      'refuse',
      { messages: [snapshot([record('log', 'p1'), record('demo', 'p2')], 5)], then: 'hang' }
    ])
    const seen = start({ connect, random })
    await expect.poll(() => states(seen.at(-1))).toBe('demo:up,log:up')
    const reconnecting = seen.find(s => s.connection === 'reconnecting')
    expect(states(reconnecting)).toBe('log:up')
    expect(calls).toEqual([undefined, undefined, undefined])
    // One back-off wait per failed session, its jitter from the injected random only.
    expect(random).toHaveBeenCalledTimes(2)
    expect(mathRandom).not.toHaveBeenCalled()
    // Every connection that opened was closed (the refused one never opened).
    expect(closed()).toBe(1)
    mathRandom.mockRestore()
  })

  it('shows the view of a peer it knew while the registry is unreachable, if asked', async () => {
    const peerList: ListResult = { registry: REGISTRY, services: [record('demo', 'p2'), record('log', 'p1', 'down')], source: { peerId: 'p2', role: 'peer', registryConnected: false } }
    const scripts = (): Script[] => [{ messages: [snapshot([record('log', 'p1'), record('demo', 'p2')])], then: 'fail' }]
    // p1 (log) does not answer; p2 (demo) does, with its own view.
    const withFallback = fakeConnect(scripts(), { '/ip4/127.0.0.1/tcp/1/p2p/p2': peerList })
    const seen = start({ connect: withFallback.connect, peerFallback: true })
    await expect.poll(() => seen.at(-1)?.connection).toBe('peer')
    expect(seen.at(-1)).toMatchObject({ viewOf: 'p2' })
    expect(states(seen.at(-1))).toBe('demo:up,log:down')
    // Each peer up in the last view, by its loopback address, until one answers; the registry is still what it was.
    expect(withFallback.calls.slice(0, 3)).toEqual([undefined, '/ip4/127.0.0.1/tcp/1/p2p/p1', '/ip4/127.0.0.1/tcp/1/p2p/p2'])
    expect(seen.at(-1)?.view.registry).toEqual(REGISTRY)
    feed?.stop()

    const without = fakeConnect(scripts(), { '/ip4/127.0.0.1/tcp/1/p2p/p2': peerList })
    const plain = start({ connect: without.connect })
    await expect.poll(() => plain.at(-1)?.connection).toBe('reconnecting')
    await expect.poll(() => without.calls.length).toBeGreaterThan(2)
    expect(without.calls.every(c => c === undefined)).toBe(true)
  })

  it('stopped while connecting: the connection is closed as soon as it opens', async () => {
    const { connect, closed } = fakeConnect([{ messages: [], then: 'hang' }])
    const slow = Promise.withResolvers<void>()
    start({ connect: async peer => { await slow.promise; return connect(peer) } })
    feed?.stop()
    slow.resolve()
    await expect.poll(() => closed()).toBe(1)
  })

  it('stops: no more connects, no update after stop, no timer left', async () => {
    vi.useFakeTimers()
    try {
      const { connect, calls } = fakeConnect([{ messages: [snapshot([record('log', 'p1')])], then: 'fail' }])
      const seen = start({ connect, minDelayMs: 1_000, maxDelayMs: 1_000 })
      await vi.advanceTimersByTimeAsync(10)
      expect(seen.at(-1)?.connection).toBe('reconnecting')
      feed?.stop()
      // The back-off wait is cancelled, not left to run out.
      expect(vi.getTimerCount()).toBe(0)
      const n = seen.length
      await vi.advanceTimersByTimeAsync(5_000)
      expect(calls).toEqual([undefined])
      expect(seen.length).toBe(n)
    } finally {
      vi.useRealTimers()
    }
  })
})
