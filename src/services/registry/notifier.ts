import { peerIdFromString } from '@libp2p/peer-id'
import { Channel } from '../../node/rpc.js'
import { MAX_NOTIFY_FRAME, NOTIFY_PROTOCOL, REQUEST_TIMEOUT_MS } from '../../node/protocols.js'
import type { ProviderRecord } from '../../node/schemas.js'
import type { GdsLibp2p } from '../../node/libp2p.js'
import type { Logger } from '../../node/logger.js'

/** Patches waiting for one slow dependent before we give up on its stream and let it resync. */
const MAX_QUEUED_PATCHES = 1_000

/**
 * Pushes catalogue patches to dependents over one long-lived notify stream each (the hub path).
 * Patches to one dependent go out in order; a dependent whose stream fails is dropped and
 * catches up from the answer to its next registration.
 */
export class Notifier {
  private readonly links = new Map<string, Link>()

  constructor (private readonly libp2p: GdsLibp2p, private readonly log: Logger) {}

  send (peerId: string, records: ProviderRecord[]): void {
    if (records.length === 0) return
    let link = this.links.get(peerId)
    if (link === undefined) {
      link = new Link(this.libp2p, peerId, this.log, () => { if (this.links.get(peerId) === link) this.links.delete(peerId) })
      this.links.set(peerId, link)
    }
    link.enqueue(records)
  }

  close (peerId: string): void {
    this.links.get(peerId)?.close()
    this.links.delete(peerId)
  }

  stop (): void {
    for (const l of this.links.values()) l.close()
    this.links.clear()
  }
}

class Link {
  private channel?: Channel
  private readonly queue: ProviderRecord[][] = []
  private flushing = false
  private closed = false

  constructor (private readonly libp2p: GdsLibp2p, private readonly peerId: string, private readonly log: Logger, private readonly onDead: () => void) {}

  enqueue (records: ProviderRecord[]): void {
    if (this.closed) return
    if (this.queue.length >= MAX_QUEUED_PATCHES) {
      this.log.warn({ peer: this.peerId }, 'dependent is not keeping up with patches; dropping its notify stream')
      this.close()
      return
    }
    this.queue.push(records)
    if (!this.flushing) void this.flush()
  }

  close (): void {
    this.closed = true
    this.queue.length = 0
    this.channel?.abort(new Error('notify link closed'))
    this.channel = undefined
    this.onDead()
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
      this.close()
    } finally {
      this.flushing = false
    }
  }

  private async open (): Promise<Channel> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(this.peerId), NOTIFY_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    const ch = new Channel(stream, MAX_NOTIFY_FRAME)
    this.channel = ch
    // The dependent never writes on this stream; its closing is how we learn the link is gone.
    stream.addEventListener('close', () => { if (this.channel === ch && !this.closed) this.close() }, { once: true })
    return ch
  }
}
