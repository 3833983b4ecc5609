import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import { Channel } from '../../node/framing.js'
import { streamOnNewest } from '../../node/newest-connection.js'
import { Outbox } from '../../node/outbox.js'
import { pageRecords } from '../../node/pages.js'
import { MAX_NOTIFY_FRAME, NOTIFY_PROTOCOL, REQUEST_TIMEOUT_MS } from '../../node/protocols.js'
import { MAX_NOTIFY_BATCHES, type NotifyPatch, type ProviderRecord } from '../../node/schemas.js'
import type { Logger } from '../../node/logger.js'

/** Patches waiting for one slow dependent before we give up on its stream and resync it. */
const MAX_QUEUED_PATCHES = 1_000
/** After a failed link, wait this long, then send the dependent the current state again. */
const RESYNC_DELAY_MS = 500
/** Consecutive failed resyncs before giving up (heartbeats will declare a dead peer down). */
const MAX_RESYNCS = 5

export interface NotifierInit {
  /** @default RESYNC_DELAY_MS */
  resyncDelayMs?: number
}

/**
 * Pushes catalogue patches to dependents over one long-lived notify stream each (the hub path).
 * Patches to one dependent go out in order. When a stream fails while the dependent may still
 * be alive (its connection need not have dropped, so it will not re-register), the dependent
 * is sent the current state of everything it requires on a new stream: records are versioned,
 * so a resent record applies once.
 */
export class Notifier {
  private readonly links = new Map<string, Link>()
  private readonly failures = new Map<string, number>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly resyncDelayMs: number
  private stopped = false

  /** `snapshotFor(peer)`: what a dependent should know now; empty if it is gone. */
  constructor (private readonly libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>, private readonly log: Logger, private readonly snapshotFor: (peerId: string) => ProviderRecord[], init: NotifierInit = {}) {
    this.resyncDelayMs = init.resyncDelayMs ?? RESYNC_DELAY_MS
  }

  /** `batch`: the registry's gossip message holding nothing but what this sends (patch-batcher.ts). */
  send (peerId: string, records: ProviderRecord[], batch?: string): void {
    if (records.length === 0) return
    if (this.stopped) return
    let link = this.links.get(peerId)
    if (link === undefined) {
      const created: Link = new Link(this.libp2p, peerId, this.log, failed => {
        if (this.links.get(peerId) === created) this.links.delete(peerId)
        if (failed) this.resyncLater(peerId)
        else this.failures.delete(peerId)
      })
      link = created
      this.links.set(peerId, link)
    }
    link.enqueue({ records, ...(batch === undefined ? {} : { batch }) })
  }

  private resyncLater (peerId: string): void {
    const n = (this.failures.get(peerId) ?? 0) + 1
    this.failures.set(peerId, n)
    if (n > MAX_RESYNCS || this.stopped) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      const records = this.snapshotFor(peerId)
      if (records.length > 0) this.send(peerId, records)
    }, this.resyncDelayMs)
    t.unref()
    this.timers.add(t)
  }

  close (peerId: string): void {
    this.links.get(peerId)?.close()
    this.links.delete(peerId)
    this.failures.delete(peerId)
  }

  stop (): void {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    for (const l of this.links.values()) l.close()
    this.links.clear()
  }
}

interface Queued { records: ProviderRecord[], batch?: string }

class Link {
  private channel?: Channel
  private readonly outbox: Outbox<Queued>

  /** `onDead(failed)`: failed = the stream broke (not closed on purpose) with news undelivered. */
  constructor (private readonly libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>, private readonly peerId: string, private readonly log: Logger, private readonly onDead: (failed: boolean) => void) {
    this.outbox = new Outbox({
      cap: MAX_QUEUED_PATCHES,
      write: async take => {
        const ch = this.channel ?? await this.open()
        // One write for everything queued: a burst of churn costs one write per dependent; in
        // pages, so a resync of many big entries stays within the frame limit. The batches go
        // with the last page: the dependent marks them seen once it holds all their records.
        const queued = take()
        const frames: NotifyPatch[] = [...pageRecords(queued.flatMap(q => q.records))].map(records => ({ type: 'patch', records }))
        const batches = [...new Set(queued.flatMap(q => q.batch ?? []))].slice(-MAX_NOTIFY_BATCHES)
        if (batches.length > 0) frames[frames.length - 1].delivered = batches
        await ch.writeAll(frames, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
      },
      onOverflow: () => {
        this.log.warn({ peer: this.peerId }, 'dependent is not keeping up with patches; resyncing it on a new stream')
        this.close(true)
      },
      onError: (err: any) => {
        this.log.debug({ peer: this.peerId, err: err?.message }, 'notify failed')
        this.close(true)
      }
    })
  }

  enqueue (queued: Queued): void {
    this.outbox.push(queued)
  }

  close (failed = false): void {
    if (this.outbox.closed) return
    this.outbox.close()
    this.channel?.abort(new Error('notify link closed'))
    this.channel = undefined
    this.onDead(failed)
  }

  private async open (): Promise<Channel> {
    const stream = await streamOnNewest(this.libp2p, peerIdFromString(this.peerId), NOTIFY_PROTOCOL, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
    const ch = new Channel(stream, MAX_NOTIFY_FRAME)
    // Closed while the dial was under way: nobody would ever close this stream.
    if (this.outbox.closed) {
      ch.abort(new Error('notify link closed'))
      throw new Error('notify link closed')
    }
    this.channel = ch
    // The dependent never writes on this stream; its closing is how we learn the link is gone.
    stream.addEventListener('close', () => { if (this.channel === ch && !this.outbox.closed) this.close(true) }, { once: true })
    return ch
  }
}
