import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { Channel } from '../../node/framing.js'
import { HEARTBEAT_PROTOCOL, MAX_HEARTBEAT_FRAME } from '../../node/protocols.js'
import { heartbeatAck } from '../../node/schemas.js'
import { initialState, onProbeResult, onTrigger, type Decision, type FailureReason, type HeartbeatState, type Liveness, type Transition } from '../../node/heartbeat.js'
import { jitter } from '../../node/backoff.js'
import type { GdsLibp2p } from '../../node/libp2p.js'
import type { Logger } from '../../node/logger.js'

export interface ProberOptions {
  libp2p: GdsLibp2p
  log: Logger
  now: () => number
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

class PeerProbe {
  private state: HeartbeatState
  private channel?: Channel
  private opening?: Promise<Channel>
  private readonly pending = new Map<number, { resolve: (load: number) => void, reject: (err: ProbeFailure) => void }>()
  private nextId = 0
  private timer?: NodeJS.Timeout
  private immediate?: NodeJS.Immediate
  private running = false
  private rerun = false
  private stopped = false
  private readonly key: string

  constructor (private readonly peer: PeerId, private readonly opts: ProberOptions, status: Liveness = 'up') {
    this.state = initialState(opts.now(), status, opts)
    this.key = peer.toString()
  }

  /** A re-registration: the owner vouches for itself, so start again from `up`. */
  reset (): void {
    this.state = initialState(this.opts.now())
    // Leave the slow pace of a down peer too, or a hang right after this goes unseen for long.
    if (!this.running) this.schedule('interval')
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
      this.timer = setTimeout(() => { void this.probe() }, jitter(base, 0.1, Math.random()))
      this.timer.unref()
    }
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearImmediate(this.immediate)
    this.failPending(new ProbeFailure('connection-closed', 'prober stopped'))
    this.channel?.abort(new Error('prober stopped'))
    this.channel = undefined
  }

  private async probe (): Promise<void> {
    if (this.stopped) return
    if (this.running) { this.rerun = true; return }
    this.running = true
    const started = this.opts.now()
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
    // A plain timer, cleared on the ack: an AbortSignal.timeout per probe fires (and builds a
    // DOMException) even after its ack, which made a tenth of the registry's heartbeat cost.
    const deadline = this.opts.now() + this.opts.heartbeatTimeoutMs
    const ch = this.channel ?? await this.open(AbortSignal.timeout(this.opts.heartbeatTimeoutMs))
    const id = ++this.nextId
    const answer = Promise.withResolvers<number>()
    this.pending.set(id, answer)
    // It may be rejected (stream closed, timeout) while we still await the write: handled below.
    answer.promise.catch(() => {})
    const timer = setTimeout(() => {
      answer.reject(new ProbeFailure('heartbeat-timeout', `no ack within ${this.opts.heartbeatTimeoutMs} ms`))
    }, Math.max(0, deadline - this.opts.now()))
    timer.unref()
    try {
      // A full send buffer waits for drain; the timer above still bounds the probe.
      void ch.write({ type: 'probe', id }).catch((err: unknown) => { answer.reject(new ProbeFailure('connection-closed', String(err))) })
      return await answer.promise
    } finally {
      clearTimeout(timer)
      this.pending.delete(id)
    }
  }

  /** The long-lived stream, opened (and its reader started) on first use or after it broke. */
  private async open (signal: AbortSignal): Promise<Channel> {
    if (this.channel !== undefined) return this.channel
    this.opening ??= (async () => {
      try {
        const stream = await this.opts.libp2p.dialProtocol(this.peer, HEARTBEAT_PROTOCOL, { signal })
        const ch = new Channel(stream, MAX_HEARTBEAT_FRAME)
        this.channel = ch
        void this.readAcks(ch)
        return ch
      } catch (err: any) {
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private async readAcks (ch: Channel): Promise<void> {
    try {
      for (;;) {
        const ack = await ch.read(heartbeatAck)
        // A late ack (after its probe timed out) finds no pending entry and is dropped.
        this.pending.get(ack.id)?.resolve(ack.load)
      }
    } catch (err: any) {
      if (this.channel === ch) this.channel = undefined
      ch.abort(err instanceof Error ? err : new Error(String(err)))
      if (this.stopped) return
      this.failPending(new ProbeFailure('connection-closed', 'heartbeat stream closed'))
      // The stream broke: if the peer is gone, find out now rather than at the next beat.
      this.trigger('connection-closed')
    }
  }

  private failPending (err: ProbeFailure): void {
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }
}

/** Whether a dial failed because the address actively refused it (the process is gone). */
function isRefused (err: any): boolean {
  const text = `${err?.message ?? ''} ${err?.code ?? ''} ${(err?.errors ?? []).map((e: any) => `${e?.message} ${e?.code}`).join(' ')}`
  return text.includes('ECONNREFUSED')
}
