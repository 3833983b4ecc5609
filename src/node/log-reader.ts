import type { RegistryClient } from './client.js'
import { ServiceNotFoundError } from './errors.js'
import type { LogEntry } from './log-shipper.js'
import { untilAborted } from './until-aborted.js'

/** Which entries: from one service, at or above a level, since a time (epoch ms). */
export interface LogFilters {
  service?: string
  level?: string
  since?: number
}

export interface ReadLogOptions {
  /** At most this many past entries (the newest). */
  limit: number
  /** Then keep reading new entries until this aborts. */
  follow?: AbortSignal
  /** Where a follow starts when there is no past entry. */
  now: () => number
}

const entryId = (e: LogEntry): string => `${e.peerId}/${e.inc}/${e.seq}`

/**
 * The cluster log through the log service: the newest `limit` entries, oldest first, then (when
 * following) every new one. The follow continues from the last entry shown, so nothing falls
 * between the query and the follow; entries of that same millisecond already shown are skipped.
 */
export async function * readLog (client: Pick<RegistryClient, 'call' | 'stream'>, filters: LogFilters, opts: ReadLogOptions): AsyncGenerator<LogEntry> {
  try {
    const { entries } = await client.call<{ entries: LogEntry[] }>('log', 'query', { ...filters, limit: opts.limit, order: 'desc' }, { idempotent: true })
    entries.reverse()
    yield * entries
    const signal = opts.follow
    // Interrupted during the query: nothing to follow (a stream would wait for an abort already past).
    if (signal === undefined || signal.aborted) return
    const since = entries.at(-1)?.ts ?? opts.now()
    const shown = new Set(entries.filter(e => e.ts === since).map(entryId))
    for await (const e of untilAborted(client.stream<LogEntry>('log', 'follow', { ...filters, since }, { signal }), signal)) {
      if (!shown.has(entryId(e))) yield e
    }
  } catch (err: any) {
    if (err?.name === 'ServiceNotFoundError') throw new ServiceNotFoundError('log', 'no log service is up (start one: gds node start --role log)')
    throw err
  }
}
