import { initialState, lateBeatMs, onBeat, onProbeResult, onTrigger, probeTimeout, type Decision, type FailureReason, type HeartbeatState, type Liveness, type Transition } from '../../node/heartbeat.js'
import { ProbeFailure } from '../../node/heartbeat-link.js'
import type { Logger } from '../../node/logger.js'
import type { TimerWheel, WheelSlot } from '../../node/timer-wheel.js'

/** The timings and callbacks every probed provider shares, whatever carries its heartbeat. */
export interface ProbeLoopOptions {
  log: Logger
  now: () => number
  /** In [0, 1): spreads the beats (BEAT_SPREAD). */
  random: () => number
  heartbeatIntervalMs: number
  /** A probe's deadline (a suspect's confirming probe waits less: probeTimeout in heartbeat.ts). */
  heartbeatTimeoutMs: number
  failureThreshold: number
  onTransition: (key: string, transition: Transition) => void
  /** A probe answered (with its round trip) or a beat pushed (no round trip to measure). */
  onAck: (key: string, figures: { rttMs?: number, load: number }) => void
}

/** Beats come at 90 to 100 % of the interval, spread so they do not all fall in one tick. */
const BEAT_SPREAD = 0.1

/** A down provider is still probed (it may only have been paused), but less often. */
const SLOW_FACTOR = 3


/**
 * The beat of one provider: when to probe, one probe at a time, and the results fed to the
 * pure state machine in src/node/heartbeat.ts. What a probe is (a libp2p stream round trip,
 * an HTTP GET) is the `roundTrip` it is given, which has the deadline it is given and resolves
 * to the provider's load. Each provider has its own slot on the prober's shared timer wheel,
 * so a hung one never delays the others, and 1,000 providers cost one Node timer, not one each.
 */
export class ProbeLoop {
  private state: HeartbeatState
  private readonly beat: WheelSlot = { fire: () => { void this.probe() } }
  private immediate?: NodeJS.Immediate
  private running = false
  private rerun = false
  private stopped = false
  /** Bumped by a reset from doubt: a probe that started before says nothing about the provider now. */
  private epoch = 0
  /** The beat slot waits for a pushed beat: when it fires, that beat is late (lateBeatMs). */
  private awaitingBeat = false

  constructor (readonly key: string, private readonly opts: ProbeLoopOptions, private readonly wheel: TimerWheel, private readonly roundTrip: (timeoutMs: number) => Promise<number>, status: Liveness = 'up') {
    this.state = initialState(opts.now(), status, opts)
  }

  /**
   * A re-registration: the owner vouches for itself, so start again from `up`. Returns whether
   * it was in doubt (suspect or down): then a probe in flight counts for nothing, and whoever
   * carries the probes should start afresh (a new stream).
   */
  reset (): boolean {
    const doubted = this.state.status !== 'up'
    this.state = initialState(this.opts.now())
    if (doubted) this.epoch++
    // Leave the slow pace of a down peer too, or a hang right after this goes unseen for long.
    if (!this.running) this.schedule('interval')
    return doubted
  }

  trigger (reason: FailureReason): void {
    this.decide(onTrigger(this.state, reason))
  }

  /**
   * A beat the provider pushed, with its load. One that comes while a probe is in flight is left
   * to it: its ack follows, and its round trip is a figure a beat cannot give.
   */
  heard (load: number): void {
    if (this.stopped || this.running) return
    const now = this.opts.now()
    this.opts.onAck(this.key, { load })
    this.decide(onBeat(this.state, now, this.opts))
  }

  schedule (when: Decision['next']): void {
    if (this.stopped) return
    this.wheel.cancel(this.beat)
    clearImmediate(this.immediate)
    this.awaitingBeat = when === 'beat'
    if (when === 'beat') {
      this.wheel.after(this.beat, lateBeatMs(this.opts.heartbeatIntervalMs, this.opts.heartbeatTimeoutMs))
    } else if (when === 'now') {
      if (this.running) { this.rerun = true; return }
      // Not setTimeout(0): on a busy loop a timer waits for the next timers phase (up to ~15 ms
      // measured after a kill -9), an immediate runs as soon as this round of I/O is handled.
      this.immediate = setImmediate(() => { void this.probe() })
      this.immediate.unref()
    } else {
      const base = when === 'slow' ? this.opts.heartbeatIntervalMs * SLOW_FACTOR : this.opts.heartbeatIntervalMs
      // Spread below the interval only: the interval is the longest a hang goes unprobed, which
      // bounds its detection (heartbeat.ts).
      this.wheel.after(this.beat, Math.max(1, Math.round(base * (1 - BEAT_SPREAD * this.opts.random()))))
    }
  }

  stop (): void {
    this.stopped = true
    this.wheel.cancel(this.beat)
    clearImmediate(this.immediate)
  }

  private async probe (): Promise<void> {
    if (this.stopped) return
    if (this.running) { this.rerun = true; return }
    this.running = true
    const started = this.opts.now()
    const epoch = this.epoch
    // Out of the beat slot: a pushed beat is late, so this probe confirms a doubt.
    const late = this.awaitingBeat
    this.awaitingBeat = false
    let decision: Decision
    try {
      const load = await this.roundTrip(probeTimeout(this.state, this.opts.heartbeatTimeoutMs, late))
      const now = this.opts.now()
      if (this.stopped) return
      if (epoch === this.epoch) this.opts.onAck(this.key, { rttMs: now - started, load })
      decision = onProbeResult(this.state, { ok: true }, now, this.opts)
    } catch (err: any) {
      const reason: FailureReason = err instanceof ProbeFailure ? err.reason : 'unreachable'
      this.opts.log.debug({ peer: this.key, reason, err: err?.message }, 'probe failed')
      decision = onProbeResult(this.state, { ok: false, reason }, this.opts.now(), this.opts)
    } finally {
      this.running = false
    }
    if (this.stopped) return
    // Reset while in flight: its result is about what we let go; probe again afresh.
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
}
