import { backoffDelay } from '../node/backoff.js'

export interface RestartPolicy {
  minDelayMs: number
  maxDelayMs: number
  /** Restarts allowed within windowMs; one more and the member is given up on. */
  maxRestarts: number
  windowMs: number
}

/** The next restart of a member: which one it is in the window, and how long to wait first. */
export interface RestartPlan { attempt: number, delayMs: number }

/** The restarts of one member, as a supervisor counts them. Pure: time is passed in. */
export class RestartBudget {
  private times: number[] = []

  constructor (private readonly policy: RestartPolicy) {}

  /** Plans the restart after an exit at `now`, or undefined when the window's restarts are spent. */
  next (now: number): RestartPlan | undefined {
    const { maxRestarts, windowMs, minDelayMs, maxDelayMs } = this.policy
    this.times = this.times.filter(t => now - t < windowMs)
    if (this.times.length >= maxRestarts) return undefined
    this.times.push(now)
    // One local process: no herd to spread, so no jitter (random = 1 takes the ceiling).
    return { attempt: this.times.length, delayMs: backoffDelay(this.times.length - 1, minDelayMs, maxDelayMs, 1) }
  }
}
