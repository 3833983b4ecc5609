import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import type { Libp2p } from 'libp2p'
import { decodeFrame, encodeFrame } from '../../node/framing.js'
import { streamOnNewest } from '../../node/newest-connection.js'
import { HEARTBEAT_PROTOCOL, MAX_HEARTBEAT_FRAME } from '../../node/protocols.js'
import { heartbeatAck } from '../../node/schemas.js'
import { TimerWheel, type WheelSlot } from '../../node/timer-wheel.js'
import type { FailureReason, Liveness } from '../../node/heartbeat.js'
import { ProbeFailure, ProbeLoop, type ProbeLoopOptions } from './probe-loop.js'

export interface ProberOptions extends ProbeLoopOptions {
  /** The only part of the node the prober uses: it dials each provider's heartbeat stream. */
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
}

/**
 * Probes every provider peer over one long-lived heartbeat stream each (the beat itself is
 * src/services/registry/probe-loop.ts). A probe out of turn (`trigger`) is the
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

/**
 * One long-lived heartbeat stream. Acks are parsed as they arrive, from the stream's message
 * events: a read pending on every stream between two beats (its promises and buffers living a
 * second each) was a third of the registry's old-space garbage with 1,000 services.
 */
interface Link {
  stream: Stream
  /** Let go on purpose (a re-registration): its end is no sign of trouble. */
  dropped?: boolean
}

/** The probe in flight (ProbeLoop sends one at a time) and the link it went out on. */
interface InFlight {
  id: number
  link: Link
  timeoutMs: number
  resolve: (load: number) => void
  reject: (err: Error) => void
}

/** One provider peer: its beat (ProbeLoop) over one long-lived heartbeat stream. */
class PeerProbe {
  private link?: Link
  private opening?: Promise<Link>
  private inFlight?: InFlight
  private nextId = 0
  private stopped = false
  private readonly loop: ProbeLoop
  private readonly deadline: WheelSlot = {
    fire: () => { this.settle(new ProbeFailure('heartbeat-timeout', `no ack within ${this.inFlight?.timeoutMs} ms`)) }
  }

  constructor (private readonly peer: PeerId, private readonly opts: ProberOptions, private readonly wheel: TimerWheel, status: Liveness = 'up') {
    this.loop = new ProbeLoop(peer.toString(), opts, wheel, async timeoutMs => this.roundTrip(timeoutMs), status)
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
    if (this.inFlight?.link === old) this.settle(new ProbeFailure('connection-closed', 'heartbeat stream replaced'))
    old.stream.abort(new Error('heartbeat stream replaced'))
  }

  trigger (reason: FailureReason): void { this.loop.trigger(reason) }

  schedule (when: 'now' | 'interval'): void { this.loop.schedule(when) }

  stop (): void {
    this.stopped = true
    this.loop.stop()
    this.settle(new ProbeFailure('connection-closed', 'prober stopped'))
    this.link?.stream.abort(new Error('prober stopped'))
    this.link = undefined
  }

  private async roundTrip (timeoutMs: number): Promise<number> {
    // The probe's deadline covers opening the stream too.
    const started = this.opts.now()
    const link = this.link ?? await this.open(AbortSignal.timeout(timeoutMs))
    const answer = Promise.withResolvers<number>()
    this.inFlight = { id: ++this.nextId, link, timeoutMs, resolve: answer.resolve, reject: answer.reject }
    this.wheel.after(this.deadline, Math.max(0, timeoutMs - (this.opts.now() - started)))
    try {
      // A probe is a few bytes: it is queued even when the stream asks the sender to wait.
      link.stream.send(lp.encode.single(encodeFrame({ type: 'probe', id: this.inFlight.id })))
    } catch (err) {
      this.settle(new ProbeFailure('connection-closed', String(err)))
    }
    return answer.promise
  }

  /** Ends the probe in flight: answered with the provider's load, or failed. */
  private settle (outcome: number | ProbeFailure): void {
    const p = this.inFlight
    if (p === undefined) return
    this.inFlight = undefined
    this.wheel.cancel(this.deadline)
    if (typeof outcome === 'number') p.resolve(outcome)
    else p.reject(outcome)
  }

  /** The long-lived stream, opened (and its acks followed) on first use or after it broke. */
  private async open (signal: AbortSignal): Promise<Link> {
    if (this.link !== undefined) return this.link
    this.opening ??= (async () => {
      try {
        const link = this.follow(await streamOnNewest(this.opts.libp2p, this.peer, HEARTBEAT_PROTOCOL, signal))
        this.link = link
        return link
      } catch (err: any) {
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private follow (stream: Stream): Link {
    const link: Link = { stream }
    const decoder = new LengthPrefixedDecoder({ maxDataLength: MAX_HEARTBEAT_FRAME, maxBufferSize: 2 * MAX_HEARTBEAT_FRAME })
    stream.addEventListener('message', e => {
      try {
        for (const frame of decoder.decode(e.data)) {
          const ack = decodeFrame(frame.subarray(), heartbeatAck)
          // A late ack of a probe that already timed out is no answer to the next one.
          if (this.inFlight?.link === link && this.inFlight.id === ack.id) this.settle(ack.load)
        }
      } catch (err: any) {
        // Malformed, oversized or flooding: a provider that breaks the protocol is not answering.
        this.opts.log.debug({ peer: this.peer.toString(), err: err?.message }, 'bad heartbeat frame')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })
    // The provider ended its side: no ack can come any more.
    stream.addEventListener('remoteCloseWrite', () => { stream.abort(new Error('heartbeat stream ended')) }, { once: true })
    stream.addEventListener('close', () => { this.closed(link) }, { once: true })
    return link
  }

  private closed (link: Link): void {
    if (this.link === link) this.link = undefined
    if (this.stopped || link.dropped === true) return
    if (this.inFlight?.link === link) this.settle(new ProbeFailure('connection-closed', 'heartbeat stream closed'))
    // The stream broke: if the peer is gone, find out now rather than at the next beat.
    this.trigger('connection-closed')
  }
}

/** Whether a dial failed because the address actively refused it (the process is gone). */
function isRefused (err: any): boolean {
  const text = `${err?.message ?? ''} ${err?.code ?? ''} ${(err?.errors ?? []).map((e: any) => `${e?.message} ${e?.code}`).join(' ')}`
  return text.includes('ECONNREFUSED')
}
