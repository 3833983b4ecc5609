import { backoffDelay } from './backoff.js'
import type { Logger, LogTap } from './logger.js'

/** One entry of the cluster log, as the log service's `append` takes it. */
export interface LogEntry {
  ts: number
  level: string
  service: string
  peerId: string
  msg: string
  /** The sending process's incarnation and its per-process counter: (peerId, inc, seq) is unique. */
  inc: number
  seq: number
  [field: string]: unknown
}

export interface ShipperOptions {
  peerId: string
  incarnation: number
  service: string
  /** Delivers a batch to a log provider; resolves once it is stored. */
  send: (entries: LogEntry[]) => Promise<void>
  /** Entries kept while no log provider is up; past it the oldest are dropped and counted. @default 10000 */
  maxBuffer?: number
  /** @default 500 */
  maxBatch?: number
  retryMinMs?: number
  /** @default 2000 */
  retryMaxMs?: number
  /** Told once each time dropping starts (the node warns on stderr). */
  onDrop?: (dropped: number) => void
  /**
   * Told once each time the log service starts refusing batches for good (entries it will never
   * take, such as a service name it cannot verify): they are dropped and counted in `rejected`.
   */
  onReject?: (rejected: number, reason: string) => void
}

/** A batch's serialised size at most: well inside the 1 MiB rpc frame, and the log's rate burst. */
const MAX_BATCH_BYTES = 512 * 1024
/** The longest a quota refusal makes the shipper wait before it tries again. */
const MAX_QUOTA_WAIT_MS = 30_000
/** Refusals that sending the same batch again cannot change. */
const FINAL_REFUSALS = new Set(['UnauthorizedError', 'InvalidParamsError'])

/** A serialised entry larger than this is cut down to its message (the log service caps entries). */
export const MAX_ENTRY_BYTES = 16 * 1024
const DROP_KEYS = new Set(['level', 'time', 'msg', 'name', 'hostname', 'v'])

/**
 * Ships a node's log lines to a log provider, in order, in batches. While none is up the
 * entries wait in a bounded buffer (overflow drops the oldest and is counted, never silent);
 * a batch is removed only once the provider has stored it, and the provider discards what it
 * already has by (peerId, inc, seq), so a retried batch is stored once.
 */
export class LogShipper {
  private readonly buffer: LogEntry[] = []
  private seq = 0
  private attempt = 0
  private timer?: NodeJS.Timeout
  private flushing?: Promise<void>
  private stopped = false
  private dropping = false
  private rejecting = false
  dropped = 0
  /** Entries the log service refused for good (see `onReject`). */
  rejected = 0
  shipped = 0

  constructor (private readonly opts: ShipperOptions) {}

  get buffered (): number { return this.buffer.length }

  /** Takes one JSON log line (pino's format). */
  push (line: string): void {
    let o: Record<string, unknown>
    try { o = JSON.parse(line) } catch { return }
    const entry = this.toEntry(o)
    if (this.buffer.length >= (this.opts.maxBuffer ?? 10_000)) {
      this.buffer.shift()
      this.dropped++
      if (!this.dropping) { this.dropping = true; this.opts.onDrop?.(this.dropped) }
    }
    this.buffer.push(entry)
    if (this.timer === undefined && this.flushing === undefined) this.schedule(0)
  }

  /** A last attempt to deliver what is buffered, bounded by `timeoutMs`. */
  async stop (timeoutMs = 1_000): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.buffer.length > 0 && this.flushing === undefined) this.flushing = this.flush()
    await Promise.race([this.flushing, new Promise(resolve => setTimeout(resolve, timeoutMs).unref())])
    this.stopped = true
  }

  private schedule (delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushing = this.flush().finally(() => { this.flushing = undefined })
    }, delayMs)
    this.timer.unref()
  }

  private async flush (): Promise<void> {
    while (this.buffer.length > 0 && !this.stopped) {
      const batch = this.nextBatch()
      try {
        await this.opts.send(batch)
      } catch (err: any) {
        if (FINAL_REFUSALS.has(err?.name)) {
          this.rejected += batch.length
          if (!this.rejecting) { this.rejecting = true; this.opts.onReject?.(this.rejected, String(err?.message ?? err)) }
          this.remove(batch)
          continue
        }
        const backoff = backoffDelay(this.attempt++, this.opts.retryMinMs ?? 200, this.opts.retryMaxMs ?? 2_000, Math.random())
        const asked = err?.name === 'QuotaExceededError' ? Number(err?.data?.retryAfterMs) : NaN
        this.schedule(Number.isFinite(asked) ? Math.min(MAX_QUOTA_WAIT_MS, Math.max(backoff, asked)) : backoff)
        return
      }
      this.attempt = 0
      this.dropping = false
      this.rejecting = false
      this.shipped += batch.length
      this.remove(batch)
    }
  }

  /** The oldest entries, up to maxBatch of them and MAX_BATCH_BYTES in all (one at least). */
  private nextBatch (): LogEntry[] {
    const max = this.opts.maxBatch ?? 500
    const batch: LogEntry[] = []
    let bytes = 0
    for (const e of this.buffer) {
      bytes += JSON.stringify(e).length + 1
      if (batch.length >= max || (batch.length > 0 && bytes > MAX_BATCH_BYTES)) break
      batch.push(e)
    }
    return batch
  }

  /** Drops a batch that was dealt with; entries dropped for room meanwhile shifted the buffer. */
  private remove (batch: readonly LogEntry[]): void {
    const last = batch[batch.length - 1].seq
    while (this.buffer.length > 0 && this.buffer[0].seq <= last) this.buffer.shift()
  }

  private toEntry (o: Record<string, unknown>): LogEntry {
    const entry: LogEntry = {
      ts: typeof o.time === 'number' ? o.time : Date.now(),
      level: typeof o.level === 'string' ? o.level : 'info',
      service: this.opts.service,
      peerId: this.opts.peerId,
      msg: typeof o.msg === 'string' ? o.msg : '',
      inc: this.opts.incarnation,
      seq: ++this.seq
    }
    for (const [k, v] of Object.entries(o)) {
      if (!DROP_KEYS.has(k) && !(k in entry)) entry[k] = v
    }
    if (JSON.stringify(entry).length <= MAX_ENTRY_BYTES) return entry
    return { ts: entry.ts, level: entry.level, service: entry.service, peerId: entry.peerId, msg: entry.msg.slice(0, 4096), inc: entry.inc, seq: entry.seq, truncated: true }
  }
}

/**
 * Ships every line of a node's logger (its tap) to the cluster log service (DESIGN.md §6),
 * warning on the node's own log when entries are dropped or refused.
 */
export function shipNodeLog (tap: LogTap, log: Logger, opts: Omit<ShipperOptions, 'onDrop' | 'onReject'>): LogShipper {
  const shipper = new LogShipper({
    ...opts,
    onDrop: dropped => { log.warn({ dropped }, 'no log service is reachable and the log buffer is full: dropping the oldest entries') },
    onReject: (rejected, reason) => { log.warn({ rejected, reason }, 'the log service refuses this node\'s entries: dropping them') }
  })
  tap.attach(line => { shipper.push(line) })
  return shipper
}
