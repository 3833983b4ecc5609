import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from './backoff.js'
import type { CallOptions } from './balancer.js'
import { ServiceNotFoundError } from './errors.js'
import type { LogEntry } from './log-shipper.js'
import { untilAborted } from './until-aborted.js'

/** Which entries: from one service, at or above a level, since a time (epoch ms). */
export interface LogFilters {
  service?: string
  level?: string
  since?: number
}

/** What the reader needs of a connection: streaming calls (a RegistryClient or a GdsNode). */
export interface LogClient {
  stream: <T = unknown>(service: string, method: string, params?: unknown, opts?: CallOptions) => AsyncIterable<T>
}

export interface ReadLogOptions {
  /** At most this many past entries (the newest). */
  limit: number
  /** Then keep reading new entries until this aborts, through restarts of the log service. */
  follow?: AbortSignal
  /** Where a follow starts when there is no past entry. */
  now: () => number
  /** In [0, 1): the reconnect back-off's jitter. @default Math.random */
  random?: () => number
  /** Reconnect back-off, doubling from min to max. @default 200 and 5000 */
  minDelayMs?: number
  maxDelayMs?: number
}

/** What a follow says about itself between entries: its stream was lost, then it is back. */
export type FollowNotice =
  | { event: 'follow-lost', error: string }
  | { event: 'follow-resumed', afterMs: number }

export function isNotice (item: LogEntry | FollowNotice): item is FollowNotice {
  return 'event' in item && (item.event === 'follow-lost' || item.event === 'follow-resumed')
}

const entryId = (e: LogEntry): string => `${e.peerId}/${e.inc}/${e.seq}`

/** Where a reader is: the newest time shown and the entries of that millisecond already shown. */
class Position {
  private ids = new Set<string>()
  constructor (public since: number) {}

  /** Whether `e` is new to the reader (and then remembers it). */
  shows (e: LogEntry): boolean {
    if (e.ts < this.since) return false
    if (e.ts > this.since) { this.since = e.ts; this.ids = new Set() }
    const id = entryId(e)
    if (this.ids.has(id)) return false
    this.ids.add(id)
    return true
  }
}

/** Errors a follow outlives: the log service went away, is restarting, or was busy. */
function recoverable (err: any): boolean {
  return err?.retryable === true || err?.name === 'ServiceNotFoundError'
}

/**
 * The cluster log through the log service: the newest `limit` entries, oldest first (streamed,
 * so any number fits), then (when following) every new one. The follow continues from the last
 * entry shown, so nothing falls between the query and the follow; entries of that same
 * millisecond already shown are skipped. When the follow's stream breaks (the log node was
 * killed or restarts) it says so once, reconnects with back-off, says so again when it is back,
 * and resumes from the last entry shown: nothing missed, nothing twice.
 */
export async function * readLog (client: LogClient, filters: LogFilters, opts: ReadLogOptions): AsyncGenerator<LogEntry | FollowNotice> {
  let position: Position | undefined
  try {
    for await (const e of client.stream<LogEntry>('log', 'query', { ...filters, limit: opts.limit, end: 'newest' })) {
      position ??= new Position(e.ts)
      position.shows(e)
      yield e
    }
  } catch (err: any) {
    if (err?.name === 'ServiceNotFoundError') throw new ServiceNotFoundError('log', 'no log service is up (start one: gds node start --role log)')
    throw err
  }
  const signal = opts.follow
  // Interrupted during the query: nothing to follow (a stream would wait for an abort already past).
  if (signal === undefined || signal.aborted) return
  const at = position ?? new Position(opts.now())
  let lostAt: number | undefined
  let attempt = 0
  while (!signal.aborted) {
    try {
      if (lostAt !== undefined) {
        // Back only once the log service answers: a quiet log would otherwise never show it.
        for await (const _ of client.stream('log', 'query', { limit: 1, since: at.since, end: 'oldest' }, { signal })) { /* only the answer matters */ }
        yield { event: 'follow-resumed', afterMs: opts.now() - lostAt }
        lostAt = undefined
        attempt = 0
      }
      for await (const e of untilAborted(client.stream<LogEntry>('log', 'follow', { ...filters, since: at.since }, { signal }), signal)) {
        if (at.shows(e)) yield e
      }
      if (signal.aborted) return
      throw new ServiceNotFoundError('log', 'the log service ended the stream')
    } catch (err: any) {
      if (signal.aborted) return
      if (!recoverable(err)) throw err
      if (lostAt === undefined) {
        lostAt = opts.now()
        yield { event: 'follow-lost', error: String(err?.message ?? err) }
      }
      const delay = backoffDelay(attempt++, opts.minDelayMs ?? 200, opts.maxDelayMs ?? 5_000, (opts.random ?? Math.random)())
      await sleep(delay, undefined, { signal }).catch(() => {})
    }
  }
}
