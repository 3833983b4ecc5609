import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { FailureReason, Liveness } from '../../node/heartbeat.js'
import { HeartbeatLink } from '../../node/heartbeat-link.js'
import { TimerWheel } from '../../node/timer-wheel.js'
import { ProbeLoop, type ProbeLoopOptions } from './probe-loop.js'

export interface ProberOptions extends ProbeLoopOptions {
  /** The only part of the node the prober uses: it dials each provider's heartbeat stream. */
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
}

/**
 * Probes every provider peer over one long-lived heartbeat stream each (the beat itself is
 * src/services/registry/probe-loop.ts), or, where the provider pushes its beats, listens to
 * them and probes only when one is late. A probe out of turn (`trigger`) is the
 * crash fast path: the connection closed, or a caller reported the peer.
 */
export class Prober {
  private readonly peers = new Map<string, PeerProbe>()
  /** Every provider's beat and probe deadline: one Node timer for all. */
  private readonly wheel = new TimerWheel()
  private stopped = false

  constructor (private readonly opts: ProberOptions) {}

  /** Starts probing a peer (no-op if it is probed already); `immediately` for a reloaded catalogue. */
  add (peerId: string, opts: { immediately?: boolean, reset?: boolean, status?: Liveness } = {}): void {
    if (this.stopped) return
    let p = this.peers.get(peerId)
    if (p === undefined) {
      p = new PeerProbe(peerIdFromString(peerId), this.opts, this.wheel, opts.status)
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
    this.wheel.stop()
  }
}

/** One provider peer: its beat (ProbeLoop) over one long-lived heartbeat stream (HeartbeatLink). */
class PeerProbe {
  private readonly loop: ProbeLoop
  private readonly link: HeartbeatLink

  constructor (peer: PeerId, opts: ProberOptions, wheel: TimerWheel, status: Liveness = 'up') {
    // The stream broke: if the peer is gone, find out now rather than at the next beat. A
    // provider that pushes its beats is probed only when one is late (heartbeat.ts).
    this.link = new HeartbeatLink(opts.libp2p, peer, wheel, opts.now, opts.log, () => { this.trigger('connection-closed') },
      { onBeat: load => { this.loop.heard(load) }, intervalMs: opts.heartbeatIntervalMs })
    this.loop = new ProbeLoop(peer.toString(), opts, wheel, async timeoutMs => this.link.roundTrip(timeoutMs), status)
  }

  reset (): void {
    // Back from suspect or down: the owner may be on a new connection (a healed partition) while
    // our stream rides the old one, where probes time out until TCP gives up. The next probe
    // opens a fresh stream. (A peer that was up keeps its stream: registrations of more names
    // come by the thousand.)
    if (this.loop.reset()) this.link.drop('heartbeat stream replaced')
  }

  trigger (reason: FailureReason): void { this.loop.trigger(reason) }

  schedule (when: 'now' | 'interval'): void { this.loop.schedule(when) }

  stop (): void {
    this.loop.stop()
    this.link.close('prober stopped')
  }
}
