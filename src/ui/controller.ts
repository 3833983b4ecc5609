import type { RegistryClient } from '../node/client.js'
import { backoffDelay } from '../node/backoff.js'
import { applyWatch, emptyView, type WatchView } from '../node/watch-view.js'
import type { Connection } from './components.js'

export interface Snapshot { view: WatchView, connection: Connection }

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
  private readonly listeners = new Set<(s: Snapshot) => void>()
  private timer?: NodeJS.Timeout
  private readonly ac = new AbortController()

  constructor (private readonly connect: () => Promise<RegistryClient>) {}

  get snapshot (): Snapshot { return { view: this.view, connection: this.connection } }

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
          this.view = applyWatch(this.view, msg)
          this.changed()
        }
      } catch { /* reconnect below */ } finally {
        await client?.close()
      }
      if (this.ac.signal.aborted) return
      this.connection = 'reconnecting'
      this.changed()
      await new Promise(resolve => setTimeout(resolve, backoffDelay(attempt, 200, 5_000, Math.random())).unref())
    }
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
