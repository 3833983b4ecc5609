import { peerIdFromString } from '@libp2p/peer-id'
import { Channel } from '../../node/framing.js'
import { MAX_NOTIFY_FRAME, NOTIFY_PROTOCOL, REQUEST_TIMEOUT_MS } from '../../node/protocols.js'
import type { ProviderRecord } from '../../node/schemas.js'
import type { GdsLibp2p } from '../../node/libp2p.js'
import type { Logger } from '../../node/logger.js'

/** Patches waiting for one slow dependent before we give up on its stream and resync it. */
const MAX_QUEUED_PATCHES = 1_000
/** After a failed link, wait this long, then send the dependent the current state again. */
const RESYNC_DELAY_MS = 500
/** Consecutive failed resyncs before giving up (heartbeats will declare a dead peer down). */
const MAX_RESYNCS = 5

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
  private stopped = false

  /** `snapshotFor(peer)`: what a dependent should know now; empty if it is gone. */
  constructor (private readonly libp2p: GdsLibp2p, private readonly log: Logger, private readonly snapshotFor: (peerId: string) => ProviderRecord[]) {}

  send (peerId: string, records: ProviderRecord[]): void {
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
    link.enqueue(records)
  }

  private resyncLater (peerId: string): void {
    const n = (this.failures.get(peerId) ?? 0) + 1
    this.failures.set(peerId, n)
    if (n > MAX_RESYNCS || this.stopped) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      const records = this.snapshotFor(peerId)
      if (records.length > 0) this.send(peerId, records)
    }, RESYNC_DELAY_MS)
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

class Link {
  private channel?: Channel
  private readonly queue: ProviderRecord[][] = []
  private flushing = false
  private closed = false

  /** `onDead(failed)`: failed = the stream broke (not closed on purpose) with news undelivered. */
  constructor (private readonly libp2p: GdsLibp2p, private readonly peerId: string, private readonly log: Logger, private readonly onDead: (failed: boolean) => void) {}

  enqueue (records: ProviderRecord[]): void {
    if (this.closed) return
    if (this.queue.length >= MAX_QUEUED_PATCHES) {
      this.log.warn({ peer: this.peerId }, 'dependent is not keeping up with patches; resyncing it on a new stream')
      this.close(true)
      return
    }
    this.queue.push(records)
    if (!this.flushing) void this.flush()
  }

  close (failed = false): void {
    if (this.closed) return
    this.closed = true
    this.queue.length = 0
    this.channel?.abort(new Error('notify link closed'))
    this.channel = undefined
    this.onDead(failed)
  }

  private async flush (): Promise<void> {
    this.flushing = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        const ch = this.channel ?? await this.open()
        // One frame for everything queued: a burst of churn costs one write per dependent.
        const records = this.queue.splice(0, this.queue.length).flat()
        await ch.write({ type: 'patch', records }, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
      }
    } catch (err: any) {
      this.log.debug({ peer: this.peerId, err: err?.message }, 'notify failed')
      this.close(true)
    } finally {
      this.flushing = false
    }
  }

  private async open (): Promise<Channel> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(this.peerId), NOTIFY_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    const ch = new Channel(stream, MAX_NOTIFY_FRAME)
    this.channel = ch
    // The dependent never writes on this stream; its closing is how we learn the link is gone.
    stream.addEventListener('close', () => { if (this.channel === ch && !this.closed) this.close(true) }, { once: true })
    return ch
  }
}
