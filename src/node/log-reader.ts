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
 * and resumes from the last entry shown: nothing missed, nothing twice. A follow started while
 * no log service is up waits for one the same way.
 */
export async function * readLog (client: LogClient, filters: LogFilters, opts: ReadLogOptions): AsyncGenerator<LogEntry | FollowNotice> {
  const signal = opts.follow
  let at: Position | undefined
  let pastShown = false
  let lostAt: number | undefined
  let attempt = 0
  /** The notice that the log service answers again, once per loss. */
  const back = (): FollowNotice[] => {
    if (lostAt === undefined) return []
    const afterMs = opts.now() - lostAt
    lostAt = undefined
    attempt = 0
    return [{ event: 'follow-resumed', afterMs }]
  }
  for (;;) {
    try {
      if (!pastShown) {
        // Retried after a loss, the past comes again: what was already shown is skipped.
        for await (const e of client.stream<LogEntry>('log', 'query', { ...filters, limit: opts.limit, end: 'newest' }, { signal })) {
          yield * back()
          at ??= new Position(e.ts)
          if (at.shows(e)) yield e
        }
        pastShown = true
      } else if (lostAt !== undefined && signal !== undefined) {
        // Back only once the log service answers: a quiet log would otherwise never show it.
        for await (const _ of client.stream('log', 'query', { limit: 1, since: at?.since, end: 'oldest' }, { signal })) { /* only the answer matters */ }
      }
      // Not following, or interrupted during the query (a stream would wait for an abort already past).
      if (signal === undefined || signal.aborted) return
      yield * back()
      at ??= new Position(opts.now())
      for await (const e of untilAborted(client.stream<LogEntry>('log', 'follow', { ...filters, since: at.since }, { signal }), signal)) {
        if (at.shows(e)) yield e
      }
      if (signal.aborted) return
      throw new ServiceNotFoundError('log', 'the log service ended the stream')
    } catch (err: any) {
      if (signal?.aborted === true) return
      const error = err?.name === 'ServiceNotFoundError' && !pastShown ? new ServiceNotFoundError('log', 'no log service is up (start one: gds node start --role log)') : err
      // Without --follow there is nothing to wait for: the error is the answer.
      if (signal === undefined || !recoverable(error)) throw error
      if (lostAt === undefined) {
        lostAt = opts.now()
        yield { event: 'follow-lost', error: String(error?.message ?? error) }
      }
      const delay = backoffDelay(attempt++, opts.minDelayMs ?? 200, opts.maxDelayMs ?? 5_000, (opts.random ?? Math.random)())
      await sleep(delay, undefined, { signal }).catch(() => {})
    }
  }
}
