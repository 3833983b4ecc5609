import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { z } from 'zod'
import { Channel } from '../../node/framing.js'
import { isDialRefused } from '../../node/client.js'
import { streamOnNewest } from '../../node/newest-connection.js'
import { HEARTBEAT_PROTOCOL, MAX_HEARTBEAT_FRAME } from '../../node/protocols.js'
import { Requests } from '../../node/requests.js'
import { heartbeatAck } from '../../node/schemas.js'
import type { FailureReason, Liveness } from '../../node/heartbeat.js'
import { ProbeFailure, ProbeLoop, type ProbeLoopOptions } from './probe-loop.js'

export interface ProberOptions extends ProbeLoopOptions {
  /** The only part of the node the prober uses: it dials each provider's heartbeat stream. */
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
  heartbeatTimeoutMs: number
}

/**
 * Probes every provider peer over one long-lived heartbeat stream each (the beat itself is
 * src/services/registry/probe-loop.ts). A probe out of turn (`trigger`) is the
 * crash fast path: the connection closed, or a caller reported the peer.
 */
export class Prober {
  private readonly peers = new Map<string, PeerProbe>()
  private stopped = false

  constructor (private readonly opts: ProberOptions) {}

  /** Starts probing a peer (no-op if it is probed already); `immediately` for a reloaded catalogue. */
  add (peerId: string, opts: { immediately?: boolean, reset?: boolean, status?: Liveness } = {}): void {
    if (this.stopped) return
    let p = this.peers.get(peerId)
    if (p === undefined) {
      p = new PeerProbe(peerIdFromString(peerId), this.opts, opts.status)
      this.peers.set(peerId, p)
      p.schedule(opts.immediately === true ? 'now' : 'interval')
    } else if (opts.reset === true) {
      p.reset()
    }
  }

  has (peerId: string): boolean { return this.peers.has(peerId) }

  remove (peerId: string): void {
    this.peers.get(peerId)?.stop()
    this.peers.delete(peerId)
  }

  trigger (peerId: string, reason: FailureReason): boolean {
    const p = this.peers.get(peerId)
    if (p === undefined) return false
    p.trigger(reason)
    return true
  }

  stop (): void {
    this.stopped = true
    for (const p of this.peers.values()) p.stop()
    this.peers.clear()
  }
}

/** One heartbeat stream and the probes in flight on it. */
interface Link {
  ch: Channel
  probes: Requests<z.infer<typeof heartbeatAck>>
  /** Let go on purpose (a re-registration): its end is no sign of trouble. */
  dropped?: boolean
}

/** One provider peer: its beat (ProbeLoop) over one long-lived heartbeat stream. */
class PeerProbe {
  private link?: Link
  private opening?: Promise<Link>
  private stopped = false
  private readonly loop: ProbeLoop

  constructor (private readonly peer: PeerId, private readonly opts: ProberOptions, status: Liveness = 'up') {
    this.loop = new ProbeLoop(peer.toString(), opts, async () => this.roundTrip(), status)
  }

  reset (): void {
    // Back from suspect or down: the owner may be on a new connection (a healed partition) while
    // our stream rides the old one, where probes time out until TCP gives up. The next probe
    // opens a fresh stream. (A peer that was up keeps its stream: registrations of more names
    // come by the thousand.)
    if (this.loop.reset()) this.dropLink()
  }

  private dropLink (): void {
    const old = this.link
    this.link = undefined
    if (old === undefined) return
    old.dropped = true
    old.probes.fail(new ProbeFailure('connection-closed', 'heartbeat stream replaced'))
    old.ch.abort(new Error('heartbeat stream replaced'))
  }

  trigger (reason: FailureReason): void { this.loop.trigger(reason) }

  schedule (when: 'now' | 'interval'): void { this.loop.schedule(when) }

  stop (): void {
    this.stopped = true
    this.loop.stop()
    this.link?.probes.fail(new ProbeFailure('connection-closed', 'prober stopped'))
    this.link?.ch.abort(new Error('prober stopped'))
    this.link = undefined
  }

  private async roundTrip (): Promise<number> {
    // The probe's deadline covers opening the stream too.
    const deadline = this.opts.now() + this.opts.heartbeatTimeoutMs
    const { ch, probes } = this.link ?? await this.open(AbortSignal.timeout(this.opts.heartbeatTimeoutMs))
    const ack = await probes.request(async id => {
      await ch.write({ type: 'probe', id }).catch((err: unknown) => { throw new ProbeFailure('connection-closed', String(err)) })
    }, {
      timeoutMs: Math.max(0, deadline - this.opts.now()),
      timedOut: () => new ProbeFailure('heartbeat-timeout', `no ack within ${this.opts.heartbeatTimeoutMs} ms`)
    })
    return ack.load
  }

  /** The long-lived stream, opened (and its reader started) on first use or after it broke. */
  private async open (signal: AbortSignal): Promise<Link> {
    if (this.link !== undefined) return this.link
    this.opening ??= (async () => {
      try {
        const stream = await streamOnNewest(this.opts.libp2p, this.peer, HEARTBEAT_PROTOCOL, signal)
        const link: Link = { ch: new Channel(stream, MAX_HEARTBEAT_FRAME), probes: new Requests({ unrefTimers: true }) }
        this.link = link
        void this.readAcks(link)
        return link
      } catch (err: any) {
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isDialRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private async readAcks (link: Link): Promise<void> {
    try {
      for (;;) {
        const ack = await link.ch.read(heartbeatAck)
        link.probes.deliver(ack.id, ack)
      }
    } catch (err: any) {
      if (this.link === link) this.link = undefined
      link.ch.abort(err instanceof Error ? err : new Error(String(err)))
      if (this.stopped || link.dropped === true) return
      link.probes.fail(new ProbeFailure('connection-closed', 'heartbeat stream closed'))
      // The stream broke: if the peer is gone, find out now rather than at the next beat.
      this.trigger('connection-closed')
    }
  }
}
