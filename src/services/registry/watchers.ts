import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Change } from '../../node/catalog.js'
import type { Logger } from '../../node/logger.js'
import { MAX_REGISTRY_FRAME, REQUEST_TIMEOUT_MS, WATCH_PROTOCOL } from '../../node/protocols.js'
import { Channel } from '../../node/framing.js'
import { Outbox } from '../../node/outbox.js'
import { listPages } from '../../node/pages.js'
import { watchRequest, type ListResult, type WatchFrame, type WatchMessage } from '../../node/schemas.js'

/** Frames waiting for one slow observer before it is dropped (it can reconnect for a snapshot). */
const MAX_QUEUED = 10_000
/** At most this many observers at once (a TUI per terminal, a web UI or two). */
const MAX_WATCHERS = 64
/** How often observers get RTT, load and last-seen of every peer. */
export const FIGURES_INTERVAL_MS = 1_000

/**
 * The registry's /gds/watch/1.0.0: each observer gets a snapshot of the catalogue, then every
 * change as it happens, then liveness figures once a second (status --watch, the web UI).
 */
export class Watchers {
  private readonly watchers = new Set<Watcher>()
  private timer?: NodeJS.Timeout

  constructor (private readonly libp2p: Pick<Libp2p, 'handle' | 'unhandle'>, private readonly log: Logger, private readonly snapshot: () => ListResult, private readonly now: () => number) {}

  async start (): Promise<void> {
    await this.libp2p.handle(WATCH_PROTOCOL, (stream, connection) => { void this.accept(stream, connection) }, { maxInboundStreams: MAX_WATCHERS })
    this.timer = setInterval(() => { this.sendFigures() }, FIGURES_INTERVAL_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    for (const w of this.watchers) w.close()
    this.watchers.clear()
    await this.libp2p.unhandle(WATCH_PROTOCOL).catch(() => {})
  }

  publish (changes: Change[]): void {
    if (this.watchers.size === 0) return
    const ts = this.now()
    for (const c of changes) {
      const msg: WatchMessage = { type: 'change', ts, record: c.record, ...(c.previous === undefined ? {} : { previous: c.previous }), ...(c.removed === true ? { removed: true } : {}) }
      for (const w of this.watchers) w.send(msg)
    }
  }

  private sendFigures (): void {
    if (this.watchers.size === 0) return
    const seen = new Map<string, { peerId: string, rttMs?: number, load?: number, lastSeen?: number }>()
    for (const r of this.snapshot().services) {
      seen.set(r.peerId, { peerId: r.peerId, ...(r.rttMs === undefined ? {} : { rttMs: r.rttMs }), ...(r.load === undefined ? {} : { load: r.load }), ...(r.lastSeen === undefined ? {} : { lastSeen: r.lastSeen }) })
    }
    const msg: WatchMessage = { type: 'figures', ts: this.now(), peers: [...seen.values()] }
    for (const w of this.watchers) w.send(msg)
  }

  private async accept (stream: Stream, connection: Connection): Promise<void> {
    const ch = new Channel(stream, MAX_REGISTRY_FRAME)
    try {
      await ch.read(watchRequest, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
    } catch (err: any) {
      this.log.warn({ peer: connection.remotePeer.toString(), err: err?.message }, 'bad watch request')
      ch.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    const w = new Watcher(ch, () => { this.watchers.delete(w) })
    this.watchers.add(w)
    // In pages, queued together: no change can slip between them.
    const ts = this.now()
    const pages = [...listPages(this.snapshot())]
    pages.forEach((page, i) => {
      const more = i < pages.length - 1 ? { more: true as const } : {}
      w.send(i === 0 ? { type: 'snapshot', ts, registry: page.registry!, ...(page.source === undefined ? {} : { source: page.source }), services: page.services, ...more } : { type: 'snapshot-more', services: page.services, ...more })
    })
    // The observer writes nothing more; its stream ending is how we learn it left.
    stream.addEventListener('close', () => { w.close() }, { once: true })
  }
}

class Watcher {
  private readonly outbox: Outbox<WatchFrame>

  constructor (private readonly ch: Channel, private readonly onClose: () => void) {
    this.outbox = new Outbox({
      cap: MAX_QUEUED,
      // Frames queued during a write go out together, each its own frame.
      write: async take => { await this.ch.writeAll(take(), AbortSignal.timeout(REQUEST_TIMEOUT_MS)) },
      onOverflow: () => { this.close() },
      onError: () => { this.close() }
    })
  }

  send (msg: WatchFrame): void {
    this.outbox.push(msg)
  }

  close (): void {
    if (this.outbox.closed) return
    this.outbox.close()
    this.ch.abort(new Error('watch closed'))
    this.onClose()
  }
}
