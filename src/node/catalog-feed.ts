import { backoffDelay } from './backoff.js'
import type { ListResult, WatchMessage } from './schemas.js'
import { applyWatch, emptyView, type WatchView } from './watch-view.js'

/** What the feed uses of a connection (a RegistryClient fits; a test passes a fake). */
export interface WatchSource {
  watch: (signal?: AbortSignal) => AsyncIterable<WatchMessage>
  list: () => Promise<ListResult>
  close: () => Promise<void>
}

/** Opens a connection to the registry, or with `peerAddr` to that peer (for its own view). */
export type ConnectWatch = (peerAddr?: string) => Promise<WatchSource>

export type FeedConnection = 'connecting' | 'connected' | 'reconnecting' | 'peer'

/** What an observer shows: the last view, and where it comes from. */
export interface CatalogSnapshot {
  readonly view: WatchView
  readonly connection: FeedConnection
  /** With connection 'peer': whose view this is. */
  readonly viewOf?: string
  /** With connection 'peer': that peer's account of its view (how fresh, registry seen when). */
  readonly viewSource?: NonNullable<ListResult['source']>
  /** Away from the registry (reconnecting, peer): why the last attempt failed, and since when (epoch ms). */
  readonly lastError?: string
  readonly since?: number
}

export interface CatalogFeedInit {
  connect: ConnectWatch
  now: () => number
  random: () => number
  /**
   * While the registry is unreachable, show the view of a peer the last view lists as up (every
   * node answers `list` with the whole catalogue it holds). @default false
   */
  peerFallback?: boolean
  /** Subscribers hear at most one update per this long, however fast the cluster changes. @default 100 */
  coalesceMs?: number
  /** Reconnect back-off: doubling from min to max, jittered. @default 200 and 5000 */
  minDelayMs?: number
  maxDelayMs?: number
  /** Told why a watch session ended (for a debug log line). */
  onError?: (err: unknown) => void
}

/** Peers tried, in turn, for their view while the registry is away. */
const MAX_PEER_CANDIDATES = 5

/** One watch session: connect, follow the stream until it ends or `signal` aborts, close. */
async function * watchCatalog (connect: ConnectWatch, signal: AbortSignal): AsyncGenerator<WatchMessage> {
  const client = await connect()
  try {
    // Stopped while connecting: a watch would wait for an abort already past.
    if (!signal.aborted) yield * client.watch(signal)
  } finally {
    await client.close()
  }
}

/**
 * The registry's catalogue, followed for as long as the observer (the TUI, the web UI) lives:
 * connects, follows the watch stream, reconnects with back-off keeping the last view, and
 * (if asked) falls back to a peer's view while the registry is unreachable. Subscribers get the
 * state coalesced, so a burst of 100 changes a second is a few updates, not a flicker storm.
 */
export class CatalogFeed {
  private current: CatalogSnapshot = { view: emptyView(), connection: 'connecting' }
  private readonly listeners = new Set<(s: CatalogSnapshot) => void>()
  private readonly ac = new AbortController()
  private timer?: ReturnType<typeof setTimeout>
  private readonly coalesceMs: number
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  /** Why the last session ended, and when the registry was first lost since it was last connected. */
  private lastError?: string
  private since?: number

  constructor (private readonly init: CatalogFeedInit) {
    this.coalesceMs = init.coalesceMs ?? 100
    this.minDelayMs = init.minDelayMs ?? 200
    this.maxDelayMs = init.maxDelayMs ?? 5_000
  }

  get snapshot (): CatalogSnapshot { return this.current }

  /** Returns the function that unsubscribes. */
  subscribe (fn: (s: CatalogSnapshot) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  start (): void { void this.loop() }

  stop (): void {
    this.ac.abort()
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private async loop (): Promise<void> {
    const signal = this.ac.signal
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        for await (const msg of watchCatalog(this.init.connect, signal)) {
          attempt = 0
          this.since = undefined
          this.update({ view: applyWatch(this.current.view, msg), connection: 'connected' })
        }
        // The stream ended without an error: the registry closed it (it stopped, or restarts).
        this.lastError = 'the registry closed the watch stream'
      } catch (err) {
        this.lastError = String((err as Error)?.message ?? err).split('\n')[0]
        this.init.onError?.(err)
      }
      if (signal.aborted) return
      this.since ??= this.init.now()
      if (this.init.peerFallback !== true || !await this.peerView()) this.update({ view: this.current.view, connection: 'reconnecting' })
      await sleep(backoffDelay(attempt, this.minDelayMs, this.maxDelayMs, this.init.random()), signal)
    }
  }

  /** Shows the view of the first peer that answers; false if none did. */
  private async peerView (): Promise<boolean> {
    const { view } = this.current
    const candidates = [...view.services.values()]
      .filter(r => r.status === 'up' && r.peerId !== view.registry?.peerId)
      .map(r => r.addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? r.addrs[0])
      .filter((a): a is string => a !== undefined)
    for (const addr of [...new Set(candidates)].slice(0, MAX_PEER_CANDIDATES)) {
      let client: WatchSource | undefined
      try {
        client = await this.init.connect(addr)
        const list = await client.list()
        if (list.source?.role !== 'peer') continue
        const snapshot = { type: 'snapshot' as const, ts: this.init.now(), ...list, registry: this.current.view.registry ?? list.registry }
        this.update({ view: applyWatch(this.current.view, snapshot), connection: 'peer', viewOf: list.source.peerId, viewSource: list.source })
        return true
      } catch { /* try the next one */ } finally {
        await client?.close()
      }
    }
    return false
  }

  private update (state: CatalogSnapshot): void {
    const away = state.connection === 'reconnecting' || state.connection === 'peer'
    this.current = away && this.since !== undefined ? { ...state, lastError: this.lastError, since: this.since } : state
    if (this.timer !== undefined || this.ac.signal.aborted) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      for (const l of this.listeners) l(this.current)
    }, this.coalesceMs)
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; holds no timer after either. */
async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    // Unref'd: a reconnect wait never holds the process open.
    const timer = setTimeout(done, ms).unref()
    signal.addEventListener('abort', done, { once: true })
  })
}
