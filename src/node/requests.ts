import { Slots } from './slots.js'

/**
 * Answers matched to requests by id over one link: the mux client, the rpc client and the
 * registry's heartbeat probes all ride this. No I/O of its own: the owner writes the request
 * (`send(id)`), reads the link and hands each answer frame to `deliver`, and calls `fail` when
 * the link breaks. A link that failed stays failed; its owner opens a new one.
 */

export interface RequestsInit {
  /** Requests in flight at once; more wait in line (first come first served) for a slot. */
  maxInFlight?: number
  /** Deadline timers do not hold the process open (the registry's probes). */
  unrefTimers?: boolean
}

export interface RequestOptions<F, A extends F> {
  timeoutMs: number
  /** The error of a request with no answer by its deadline. */
  timedOut: () => Error
  signal?: AbortSignal
  /** The error of a request whose signal aborted. @default the signal's reason */
  cancelled?: () => Error
  /** Whether a frame is the answer; others on the same id are ignored. @default every frame */
  isAnswer?: (frame: F) => frame is A
}

export interface StreamOptions<F> {
  signal?: AbortSignal
  /** @default the signal's reason */
  cancelled?: () => Error
  /** Whether a frame is the last of the answer. */
  isLast: (frame: F) => boolean
  /** The consumer stopped before the last frame while the link is up: tell the other side. */
  cancel: (id: number) => void
}

interface Waiter<F> {
  frame: (f: F) => void
  fail: (err: Error) => void
}

export class Requests<F> {
  private readonly waiters = new Map<number, Waiter<F>>()
  private readonly slots?: Slots
  private nextId = 0
  private failed?: Error

  constructor (private readonly init: RequestsInit = {}) {
    if (init.maxInFlight !== undefined) this.slots = new Slots(init.maxInFlight)
  }

  /** Why the link failed, or undefined while it is up. */
  get failure (): Error | undefined { return this.failed }

  /**
   * Sends a request (`send` writes it under the id given; a rejected send fails the request)
   * and resolves with its answer frame. The deadline is a plain timer cleared on the answer: an
   * AbortSignal.timeout per request fires (and builds a DOMException) even after its answer,
   * which was a tenth of the registry's heartbeat cost. The deadline covers the wait for a slot.
   */
  async request<A extends F = F> (send: (id: number) => Promise<void> | void, opts: RequestOptions<F, A>): Promise<A> {
    if (this.failed !== undefined) throw this.failed
    if (opts.signal?.aborted === true) throw cancellation(opts)
    const id = ++this.nextId
    const answer = Promise.withResolvers<A>()
    // It may be rejected (link failed, deadline, abort) while we still wait for a slot.
    answer.promise.catch(ignore)
    // A deadline counts only after the I/O already waiting is read: when the event loop stalls
    // (a loaded host), the timer and the answer come due together and timers run first, which
    // counted answered probes as misses and declared live providers down. setImmediate runs
    // after this turn's poll phase has handed every arrived frame to `deliver`.
    const timer = setTimeout(() => { setImmediate(() => { answer.reject(opts.timedOut()) }) }, opts.timeoutMs)
    if (this.init.unrefTimers === true) timer.unref()
    // Closures made only when needed: at rpc rates, each per-request allocation makes GC
    // pauses (the tail of call latency) a little more frequent.
    const onAbort = opts.signal === undefined ? undefined : (): void => { answer.reject(cancellation(opts)) }
    if (onAbort !== undefined) opts.signal?.addEventListener('abort', onAbort, { once: true })
    const slot = this.slots?.acquire()
    try {
      if (slot !== undefined) await Promise.race([slot.ready, answer.promise])
      if (this.failed !== undefined) throw this.failed
      const isAnswer = opts.isAnswer
      const frame = isAnswer === undefined ? answer.resolve as (f: F) => void : (f: F) => { if (isAnswer(f)) answer.resolve(f) }
      this.waiters.set(id, { frame, fail: answer.reject })
      // Not awaited: a full send buffer waits for drain, and the deadline still bounds the request.
      void send(id)?.catch(answer.reject)
      return await answer.promise
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) opts.signal?.removeEventListener('abort', onAbort)
      this.waiters.delete(id)
      if (slot !== undefined) this.slots?.release(slot)
    }
  }

  /**
   * Sends a request whose answer is several frames and yields each as it arrives, the last
   * included. No deadline (a stream lasts as long as its consumer wants it); no slot either.
   */
  async * stream (send: (id: number) => Promise<void>, opts: StreamOptions<F>): AsyncGenerator<F> {
    if (this.failed !== undefined) throw this.failed
    if (opts.signal?.aborted === true) throw cancellation(opts)
    const id = ++this.nextId
    const frames: F[] = []
    let failure: Error | undefined
    let wake: (() => void) | undefined
    const notify = (): void => { wake?.(); wake = undefined }
    this.waiters.set(id, { frame: f => { frames.push(f); notify() }, fail: err => { failure = err; notify() } })
    const onAbort = (): void => { failure = cancellation(opts); notify() }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    let ended = false
    try {
      await send(id)
      for (;;) {
        const f = frames.shift()
        if (f === undefined) {
          if (failure !== undefined) throw failure
          await new Promise<void>(resolve => { wake = resolve })
          continue
        }
        ended = opts.isLast(f)
        yield f
        if (ended) return
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
      this.waiters.delete(id)
      if (!ended && this.failed === undefined) opts.cancel(id)
    }
  }

  /** An answer frame read from the link; one for a request that is gone (it timed out) is dropped. */
  deliver (id: number, frame: F): void {
    this.waiters.get(id)?.frame(frame)
  }

  /** The link broke: every request on it fails with `err`, and so does every later one. */
  fail (err: Error): void {
    if (this.failed !== undefined) return
    this.failed = err
    // Each failed request hands its slot on, so those waiting in line wake, see the failure, leave.
    for (const w of this.waiters.values()) w.fail(err)
    this.waiters.clear()
  }
}

function ignore (): void {}

function cancellation (opts: { signal?: AbortSignal, cancelled?: () => Error }): Error {
  return opts.cancelled?.() ?? opts.signal?.reason
}
