import type { RegistryClient } from '../node/client.js'
import { backoffDelay } from '../node/backoff.js'
import { applyWatch, emptyView, type WatchView } from '../node/watch-view.js'
import type { Connection } from './components.js'

export interface Snapshot {
  view: WatchView
  connection: Connection
  /** With connection 'peer': whose view is on screen. */
  viewOf?: string
}

/** At most this many screen updates per second, however fast the cluster changes. */
export const RENDERS_PER_SECOND = 10

/**
 * Owns the watch subscription for the TUI: connects, follows, reconnects with back-off
 * (keeping the last view on screen), and hands out snapshots no more often than
 * RENDERS_PER_SECOND so a burst of 100 changes a second is a few renders, not a flicker storm.
 */
export class WatchController {
  private view: WatchView = emptyView()
  private connection: Connection = 'connecting'
  private viewOf?: string
  private readonly listeners = new Set<(s: Snapshot) => void>()
  private timer?: NodeJS.Timeout
  private readonly ac = new AbortController()

  /** `connect(addr)` reaches a peer instead of the registry (its own view, for the fallback). */
  constructor (private readonly connect: (peerAddr?: string) => Promise<RegistryClient>) {}

  get snapshot (): Snapshot { return { view: this.view, connection: this.connection, ...(this.viewOf === undefined ? {} : { viewOf: this.viewOf }) } }

  subscribe (fn: (s: Snapshot) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  start (): void { void this.loop() }

  stop (): void {
    this.ac.abort()
    clearTimeout(this.timer)
  }

  private async loop (): Promise<void> {
    for (let attempt = 0; !this.ac.signal.aborted; attempt++) {
      let client: RegistryClient | undefined
      try {
        client = await this.connect()
        for await (const msg of client.watch(this.ac.signal)) {
          attempt = 0
          this.connection = 'connected'
          this.viewOf = undefined
          this.view = applyWatch(this.view, msg)
          this.changed()
        }
      } catch { /* reconnect below */ } finally {
        await client?.close()
      }
      if (this.ac.signal.aborted) return
      if (!await this.peerView()) this.connection = 'reconnecting'
      this.changed()
      await new Promise(resolve => setTimeout(resolve, backoffDelay(attempt, 200, 5_000, Math.random())).unref())
    }
  }

  /**
   * The registry is unreachable: show the view of a peer we knew (every node answers `list`
   * with its own entries and what it follows). True if one answered.
   */
  private async peerView (): Promise<boolean> {
    const candidates = [...this.view.services.values()]
      .filter(r => r.status === 'up' && r.peerId !== this.view.registry?.peerId)
      .map(r => r.addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? r.addrs[0])
      .filter((a): a is string => a !== undefined)
    for (const addr of [...new Set(candidates)].slice(0, 5)) {
      let client: RegistryClient | undefined
      try {
        client = await this.connect(addr)
        const list = await client.list()
        if (list.source?.role !== 'peer') continue
        this.view = applyWatch(this.view, { type: 'snapshot', ts: Date.now(), ...list, registry: this.view.registry ?? list.registry })
        this.connection = 'peer'
        this.viewOf = list.source.peerId
        return true
      } catch { /* try the next one */ } finally {
        await client?.close()
      }
    }
    return false
  }

  private changed (): void {
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const s = this.snapshot
      for (const l of this.listeners) l(s)
    }, 1000 / RENDERS_PER_SECOND)
  }
}
