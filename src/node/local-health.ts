/**
 * A node's view of its own health while it judges its peers (Lifeguard's local health,
 * memberlist's awareness). A node whose event loop stalls, whose helpers do not answer its
 * indirect checks in time, or that has to refute suspicions about itself, is more likely slow
 * than its peers dead: it stretches its check timeouts by (score + 1) and does not gossip
 * suspicions until it is healthy again. Pure: time is passed in.
 */

export interface HealthPolicy {
  /** The score stays below this: timeouts stretch at most `maxScore` times. */
  maxScore: number
  /** An event-loop stall longer than this (ms) within a beat is a sign of our own slowness. */
  slowLoopMs: number
  /** Without a new sign of slowness, the score falls by one each this long (ms). */
  recoverMs: number
}

export class LocalHealth {
  private score = 0
  /** When the score last changed, or last fell through time. */
  private since = 0

  constructor (private readonly policy: HealthPolicy) {
    if (!Number.isInteger(policy.maxScore) || policy.maxScore < 1) throw new RangeError('local health needs a maximum score of at least one')
  }

  /** The score now: 0 is healthy. */
  scoreAt (now: number): number {
    const fallen = Math.floor(Math.max(0, now - this.since) / this.policy.recoverMs)
    if (fallen > 0) {
      this.score = Math.max(0, this.score - fallen)
      this.since += fallen * this.policy.recoverMs
    }
    return this.score
  }

  healthy (now: number): boolean {
    return this.scoreAt(now) === 0
  }

  /** `timeoutMs` stretched by our health: a slow node gives its peers longer to answer. */
  scale (timeoutMs: number, now: number): number {
    return timeoutMs * (this.scoreAt(now) + 1)
  }

  /** Our own direct check answered: we work (memberlist: -1 on an ack). */
  answered (now: number): void {
    this.add(-1, now)
  }

  /**
   * An indirect check: `asked` helpers, `answering` of them answered in time (either way). A
   * helper that did not answer says more about us than about it; with no helper to ask, our own
   * failed check is the only sign there is (memberlist's missed nacks).
   */
  indirect (asked: number, answering: number, now: number): void {
    this.add(asked === 0 ? 1 : asked - answering, now)
  }

  /** We refuted a suspicion about ourselves: someone found us slow. */
  refuted (now: number): void {
    this.add(1, now)
  }

  /** The longest event-loop stall seen over the last beat, in ms. */
  loopDelay (maxMs: number, now: number): void {
    if (maxMs > this.policy.slowLoopMs) this.add(1, now)
  }

  private add (delta: number, now: number): void {
    if (delta === 0) return
    this.score = Math.min(this.policy.maxScore - 1, Math.max(0, this.scoreAt(now) + delta))
    this.since = now
  }
}
