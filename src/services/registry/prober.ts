import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { z } from 'zod'
import { Channel } from '../../node/framing.js'
import { streamOnNewest } from '../../node/newest-connection.js'
import { HEARTBEAT_PROTOCOL, MAX_HEARTBEAT_FRAME } from '../../node/protocols.js'
import { Requests } from '../../node/requests.js'
import { heartbeatAck } from '../../node/schemas.js'
import { initialState, onProbeResult, onTrigger, type Decision, type FailureReason, type HeartbeatState, type Liveness, type Transition } from '../../node/heartbeat.js'
import { jitter } from '../../node/backoff.js'
import type { Logger } from '../../node/logger.js'

export interface ProberOptions {
  /** The only part of the node the prober uses: it dials each provider's heartbeat stream. */
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
  log: Logger
  now: () => number
  /** In [0, 1): spreads the beats (jitter). */
  random: () => number
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
  failureThreshold: number
  onTransition: (peerId: string, transition: Transition) => void
  onAck: (peerId: string, figures: { rttMs: number, load: number }) => void
}

/** A down peer is still probed (it may only have been paused), but less often. */
const SLOW_FACTOR = 3

class ProbeFailure extends Error {
  constructor (readonly reason: FailureReason, message: string) { super(message) }
}

/**
 * Probes every provider peer over one long-lived heartbeat stream each, and feeds the results
 * to the pure state machine in src/node/heartbeat.ts. A probe out of turn (`trigger`) is the
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

class PeerProbe {
  private state: HeartbeatState
  private link?: Link
  private opening?: Promise<Link>
  private timer?: NodeJS.Timeout
  private immediate?: NodeJS.Immediate
  private running = false
  private rerun = false
  private stopped = false
  /** Bumped when the stream is replaced: a probe that started before says nothing about the peer now. */
  private epoch = 0
  private readonly key: string

  constructor (private readonly peer: PeerId, private readonly opts: ProberOptions, status: Liveness = 'up') {
    this.state = initialState(opts.now(), status, opts)
    this.key = peer.toString()
  }

  /** A re-registration: the owner vouches for itself, so start again from `up`. */
  reset (): void {
    const doubted = this.state.status !== 'up'
    this.state = initialState(this.opts.now())
    // Back from suspect or down: the owner may be on a new connection (a healed partition) while
    // our stream rides the old one, where probes time out until TCP gives up. The next probe
    // opens a fresh stream, and one in flight on the old one counts for nothing. (A peer that
    // was up keeps its stream: registrations of more names come by the thousand.)
    if (doubted) this.replaceLink()
    // Leave the slow pace of a down peer too, or a hang right after this goes unseen for long.
    if (!this.running) this.schedule('interval')
  }

  private replaceLink (): void {
    this.epoch++
    const old = this.link
    this.link = undefined
    if (old === undefined) return
    old.dropped = true
    old.probes.fail(new ProbeFailure('connection-closed', 'heartbeat stream replaced'))
    old.ch.abort(new Error('heartbeat stream replaced'))
  }

  trigger (reason: FailureReason): void {
    this.decide(onTrigger(this.state, reason))
  }

  schedule (when: Decision['next']): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    clearImmediate(this.immediate)
    if (when === 'now') {
      if (this.running) { this.rerun = true; return }
      // Not setTimeout(0): on a busy loop a timer waits for the next timers phase (up to ~15 ms
      // measured after a kill -9), an immediate runs as soon as this round of I/O is handled.
      this.immediate = setImmediate(() => { void this.probe() })
      this.immediate.unref()
    } else {
      const base = when === 'slow' ? this.opts.heartbeatIntervalMs * SLOW_FACTOR : this.opts.heartbeatIntervalMs
      this.timer = setTimeout(() => { void this.probe() }, jitter(base, 0.1, this.opts.random()))
      this.timer.unref()
    }
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearImmediate(this.immediate)
    this.link?.probes.fail(new ProbeFailure('connection-closed', 'prober stopped'))
    this.link?.ch.abort(new Error('prober stopped'))
    this.link = undefined
  }

  private async probe (): Promise<void> {
    if (this.stopped) return
    if (this.running) { this.rerun = true; return }
    this.running = true
    const started = this.opts.now()
    const epoch = this.epoch
    let decision: Decision
    try {
      const load = await this.roundTrip()
      const now = this.opts.now()
      this.opts.onAck(this.key, { rttMs: now - started, load })
      decision = onProbeResult(this.state, { ok: true }, now, this.opts)
    } catch (err: any) {
      const reason: FailureReason = err instanceof ProbeFailure ? err.reason : 'unreachable'
      this.opts.log.debug({ peer: this.key, reason, err: err?.message }, 'probe failed')
      decision = onProbeResult(this.state, { ok: false, reason }, this.opts.now(), this.opts)
    } finally {
      this.running = false
    }
    if (this.stopped) return
    // Reset while in flight: its result is about the stream we let go; probe again on a new one.
    if (epoch !== this.epoch) decision = { state: this.state, next: 'now' }
    if (this.rerun) {
      this.rerun = false
      if (decision.next === 'interval') decision = { ...decision, next: 'now' }
    }
    this.decide(decision)
  }

  private decide (d: Decision): void {
    this.state = d.state
    if (d.transition !== undefined) this.opts.onTransition(this.key, d.transition)
    this.schedule(d.next)
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
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
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

/** Whether a dial failed because the address actively refused it (the process is gone). */
function isRefused (err: any): boolean {
  const text = `${err?.message ?? ''} ${err?.code ?? ''} ${(err?.errors ?? []).map((e: any) => `${e?.message} ${e?.code}`).join(' ')}`
  return text.includes('ECONNREFUSED')
}
