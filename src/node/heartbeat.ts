/**
 * The heartbeat state machine for one provider peer, as the registry sees it. Pure: it decides,
 * the prober (src/services/registry/prober.ts) does the I/O and keeps the timers.
 *
 *   up ──miss──▶ suspect ──miss × (threshold-1)──▶ down
 *    ▲              │                                │
 *    └────ack───────┴──────────────ack───────────────┘
 *
 * A miss never waits a whole interval before the next probe: a suspect peer is probed again at
 * once, with a shorter deadline (`probeTimeout`), so a hung provider is down 750 ms after the
 * probe it missed at the defaults instead of `threshold` intervals. The crash fast path (the connection closed, or a caller reported the
 * peer) asks for an immediate probe too; a dead process refuses the dial in a millisecond, and
 * a refused dial is down at once, without waiting for the threshold.
 *
 * A provider that pushes its own beats (HEARTBEAT_PUSH_PROTOCOL) is not probed while they come:
 * each beat counts as an answered probe (`onBeat`), and only a beat later than `lateBeatMs`
 * brings a probe, with the confirming probe's short deadline (it is late already). The provider
 * beats a little faster than the interval (`beatEveryMs`), so a live one is seldom late. A hang
 * is then down within interval + 2.5 × confirm timeout (1.625 s at the defaults; the probed
 * path's bound is 1.75 s), at one frame a beat instead of two; a provider must stall for
 * about as long as before (475 ms against 500) to be made suspect by mistake.
 */

export type Liveness = 'up' | 'suspect' | 'down'

/**
 * `refused`: the dial was actively refused (TCP RST): nothing listens there any more, which is
 * definitive, unlike a timeout that may be a pause or a slow network.
 */
export type FailureReason = 'heartbeat-timeout' | 'connection-closed' | 'unreachable' | 'refused' | 'suspect-report'

export interface HeartbeatState {
  readonly status: Liveness
  /** Consecutive failed probes. */
  readonly misses: number
  /** Why we are probing out of turn (kept so the down reason names the real cause). */
  readonly trigger?: FailureReason
  readonly lastAckAt?: number
}

export interface HeartbeatPolicy {
  failureThreshold: number
}

export type ProbeResult = { ok: true } | { ok: false, reason: FailureReason }

export interface Transition {
  from: Liveness
  to: Liveness
  reason: string
}

export interface Decision {
  state: HeartbeatState
  transition?: Transition
  /**
   * When to probe next: after the interval, at once, or (down) after the slow interval; `beat`:
   * only if the next pushed beat is late (lateBeatMs).
   */
  next: 'interval' | 'now' | 'slow' | 'beat'
}

/** A new peer starts `up` (it just registered); a reloaded one starts where the catalogue left it. */
export function initialState (now: number, status: Liveness = 'up', policy?: HeartbeatPolicy): HeartbeatState {
  if (status === 'up') return { status, misses: 0, lastAckAt: now }
  return { status, misses: status === 'down' ? (policy?.failureThreshold ?? 1) : 1 }
}

export function onProbeResult (state: HeartbeatState, result: ProbeResult, now: number, policy: HeartbeatPolicy): Decision {
  if (result.ok) {
    const next: HeartbeatState = { status: 'up', misses: 0, lastAckAt: now }
    if (state.status === 'up') return { state: next, next: 'interval' }
    return { state: next, transition: { from: state.status, to: 'up', reason: 'heartbeat-ok' }, next: 'interval' }
  }
  const misses = state.misses + 1
  // A probe out of turn names its cause; a refused dial after a closed connection is a crash.
  const reason: FailureReason = state.trigger ?? result.reason
  if (state.status === 'down') return { state: { ...state, misses }, next: 'slow' }
  // A refused dial needs no second opinion: the process is gone (kill -9, crash, exit).
  if (misses >= policy.failureThreshold || result.reason === 'refused') {
    return { state: { status: 'down', misses, lastAckAt: state.lastAckAt }, transition: { from: state.status, to: 'down', reason }, next: 'slow' }
  }
  const suspect: HeartbeatState = { status: 'suspect', misses, trigger: state.trigger, lastAckAt: state.lastAckAt }
  if (state.status === 'suspect') return { state: suspect, next: 'now' }
  return { state: suspect, transition: { from: state.status, to: 'suspect', reason }, next: 'now' }
}

/**
 * How long a probe waits for its ack. A suspect has already missed one whole timeout: the probe
 * that confirms it waits half as long (never under the floor), which keeps a hang's detection
 * within interval + 1.5 × timeout (1.75 s at the defaults, was 2.1 s) while one slow ack still
 * only makes a peer suspect. A peer that answers at all answers in milliseconds.
 */
export function probeTimeout (state: HeartbeatState, timeoutMs: number, late = false): number {
  return state.status === 'suspect' || late ? confirmTimeout(timeoutMs) : timeoutMs
}

/** The deadline of a probe that confirms a doubt: half the timeout, never under the floor. */
export function confirmTimeout (timeoutMs: number): number {
  return Math.max(Math.min(timeoutMs, MIN_CONFIRM_TIMEOUT_MS), Math.round(timeoutMs / 2))
}

/** A provider pushes its beats at this share of the interval: never late by the registry's clock. */
export const BEAT_EARLY = 0.9

/** How often a provider pushes a beat. */
export function beatEveryMs (intervalMs: number): number {
  return Math.max(1, Math.round(intervalMs * BEAT_EARLY))
}

/**
 * How long after a pushed beat the next one is late and a probe goes out: an interval (a tenth
 * more than the beats' spacing), plus half the confirm timeout for a loaded loop running late.
 */
export function lateBeatMs (intervalMs: number, timeoutMs: number): number {
  return intervalMs + Math.round(confirmTimeout(timeoutMs) / 2)
}

/** A beat the provider pushed: alive, as an answered probe is; the next probe only if a beat is late. */
export function onBeat (state: HeartbeatState, now: number, policy: HeartbeatPolicy): Decision {
  const d = onProbeResult(state, { ok: true }, now, policy)
  return { ...d, next: 'beat' }
}

/**
 * A probe deadline that ran more than half its length late measured our own stall (a blocked
 * event loop, a starved process), not the peer: the ack may sit unread behind it. Such a
 * deadline starts again, at most this many times, so a node that stalls still decides.
 */
export const MAX_STALL_RESTARTS = 3

/** Whether a probe deadline that fired `lateMs` late (restarted `restarts` times) starts again. */
export function restartsAfterStall (lateMs: number, timeoutMs: number, restarts: number): boolean {
  return restarts < MAX_STALL_RESTARTS && lateMs > timeoutMs / 2
}

/** The least a confirming probe waits (a short --heartbeat-timeout is not halved below it). */
export const MIN_CONFIRM_TIMEOUT_MS = 100

/**
 * Something outside the beat says the peer may be gone (its connection closed, or a caller's
 * call failed): probe now, and remember why.
 */
export function onTrigger (state: HeartbeatState, reason: FailureReason): Decision {
  if (state.status === 'down') return { state, next: 'now' }
  return { state: { ...state, trigger: state.trigger ?? reason }, next: 'now' }
}
