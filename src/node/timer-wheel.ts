/**
 * One timer for many deadlines. The registry keeps two per provider (its next beat, and the
 * deadline of the probe in flight): as Node timers that was a Timeout, a closure and a promise
 * per provider per second, which lived just long enough to be promoted and were most of the
 * registry's old-space garbage with 1,000 services. Here a deadline is a slot its owner keeps
 * and moves; one Node timer is armed for the earliest tick.
 */

/**
 * A deadline its owner reuses: `fire` runs once when it comes due, unless cancelled first, with
 * how late it ran (ms past its due time: the node's own event loop stalled, or a loaded host).
 */
export interface WheelSlot {
  readonly fire: (lateMs: number) => void
  /** The tick it is due in (set by the wheel). */
  tick?: number
  /** When it came due (set by the wheel as it takes it). */
  dueAt?: number
}

/**
 * Ticks of the wheel: deadlines are rounded up to one (never early). 10 ms is below what a
 * heartbeat can tell apart on a loaded host, and groups the beats of 1,000 providers at 1 Hz
 * into a few dozen wake-ups a second.
 */
export const TICK_MS = 10

/** The pure core: slots bucketed by tick, time passed in (milliseconds on any monotonic clock). */
export class DeadlineBuckets {
  private readonly buckets = new Map<number, Set<WheelSlot>>()
  /** Every tick up to this one has been taken. */
  private taken = -Infinity

  constructor (private readonly tickMs = TICK_MS) {}

  get size (): number {
    let n = 0
    for (const b of this.buckets.values()) n += b.size
    return n
  }

  /** Puts `slot` due at `at` (moving it if it was due already). */
  schedule (slot: WheelSlot, at: number): void {
    this.cancel(slot)
    // A tick already taken would never be looked at again: the next one is the soonest.
    const tick = Math.max(Math.ceil(at / this.tickMs), this.taken + 1)
    slot.tick = tick
    let bucket = this.buckets.get(tick)
    if (bucket === undefined) { bucket = new Set(); this.buckets.set(tick, bucket) }
    bucket.add(slot)
  }

  cancel (slot: WheelSlot): void {
    if (slot.tick === undefined) return
    const bucket = this.buckets.get(slot.tick)
    bucket?.delete(slot)
    if (bucket?.size === 0) this.buckets.delete(slot.tick)
    slot.tick = undefined
  }

  /** Removes and returns the slots due at `now`, earliest tick first. */
  takeDue (now: number): WheelSlot[] {
    const upTo = Math.floor(now / this.tickMs)
    const due: WheelSlot[] = []
    for (const tick of [...this.buckets.keys()].filter(t => t <= upTo).sort((a, b) => a - b)) {
      for (const slot of this.buckets.get(tick) ?? []) { slot.tick = undefined; slot.dueAt = tick * this.tickMs; due.push(slot) }
      this.buckets.delete(tick)
    }
    this.taken = Math.max(this.taken, upTo)
    return due
  }

  /** When the earliest slot is due, or undefined when there is none. */
  nextAt (): number | undefined {
    let min = Infinity
    for (const tick of this.buckets.keys()) if (tick < min) min = tick
    return min === Infinity ? undefined : min * this.tickMs
  }
}

/**
 * The I/O edge: a Node timer armed for the earliest slot. It does not hold the process open.
 * Due slots fire from an immediate after the timer, so the frames that arrived while the event
 * loop stalled (a loaded host) are read first: an ack and its deadline coming due together
 * counts as an ack (see requests.ts for the same rule).
 */
export class TimerWheel {
  private readonly core: DeadlineBuckets
  private timer?: NodeJS.Timeout
  private armedAt = Infinity
  private stopped = false

  constructor (private readonly clock: () => number = () => performance.now(), tickMs = TICK_MS) {
    this.core = new DeadlineBuckets(tickMs)
  }

  /** `slot` fires in `delayMs` (moved if it was due already). */
  after (slot: WheelSlot, delayMs: number): void {
    if (this.stopped) return
    this.core.schedule(slot, this.clock() + delayMs)
    this.arm()
  }

  cancel (slot: WheelSlot): void { this.core.cancel(slot) }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm (): void {
    const at = this.core.nextAt()
    if (at === undefined || at >= this.armedAt) return
    clearTimeout(this.timer)
    this.armedAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.armedAt = Infinity
      setImmediate(() => { this.run() })
    }, Math.max(0, at - this.clock()))
    this.timer.unref()
  }

  private run (): void {
    if (this.stopped) return
    const now = this.clock()
    for (const slot of this.core.takeDue(now)) slot.fire(Math.max(0, now - (slot.dueAt ?? now)))
    this.arm()
  }
}
