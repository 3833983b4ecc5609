import { z } from 'zod'
import { LOG_LIMITS } from '../../node/config.js'
import { NotStartedError, OverloadedError, QuotaExceededError, UnauthorizedError } from '../../node/errors.js'
import { MAX_ENTRY_BYTES, type LogEntry } from '../../node/log-shipper.js'
import { defineMethod, defineService, type ServiceDefinition } from '../../node/service.js'
import { ServiceClaims } from './claims.js'
import { TokenBuckets } from '../../node/token-buckets.js'
import type { HttpLog } from './http-log.js'
import { LEVELS, LogStore, matches, type LogStoreOptions } from './store.js'

const level = z.enum(LEVELS)
const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/**
 * One entry as a node sends it: the fields every entry has, plus any JSON fields, at most 16 KiB
 * in all. `ts` is the sender's clock and `service` its claim: the log service checks the claim
 * and stamps its own receive time (see `append`).
 */
export const logEntry = z.looseObject({
  ts: counter,
  level,
  service: z.string().min(1).max(64),
  peerId: z.string().min(1).max(128),
  msg: z.string().max(8192),
  inc: counter,
  seq: counter.min(1)
}).refine(e => JSON.stringify(e).length <= MAX_ENTRY_BYTES, `an entry is at most ${MAX_ENTRY_BYTES} bytes`)

const filters = { since: counter.optional(), until: counter.optional(), service: z.string().max(64).optional(), level: level.optional() }

/** Entries a follower may lag behind before it is cut off (it can follow again from `since`). */
const MAX_FOLLOW_BACKLOG = 10_000
/** The most entries one query or the past of one follow streams. */
export const MAX_QUERY_LIMIT = 10_000

export interface LogServiceOptions extends LogStoreOptions {
  /** @default Date.now */
  now?: () => number
  /** HOST:PORT where the Go services' `POST /log` is taken (--http-compat). @default none */
  httpCompat?: string
}

/**
 * The log role: an append-only cluster log. Every node's logger ships here (src/node/log-shipper);
 * `gds logs` reads it. Nothing in `append` logs at info or above: that would feed itself.
 *
 * Trust: an entry's `peerId` is its sender's (from the connection), its `service` a name the
 * registry lists that peer for (`registry` for the registry itself), and its `ts` the time this
 * service received it; the sender's own time is kept as `sentAt` when it is plausible. A batch
 * claiming a name its sender does not provide is refused whole (UnauthorizedError): a forged
 * "grade removed" under `grading` is never stored. Each peer has a rate (token bucket) and a
 * share of the storage; past either, its batches are refused with QuotaExceededError.
 */
export function logService (opts: LogServiceOptions): ServiceDefinition {
  const now = opts.now ?? Date.now
  const store = new LogStore(opts)
  const buckets = new TokenBuckets({ ratePerSec: LOG_LIMITS.peerBytesPerSec, burst: LOG_LIMITS.peerBurstBytes, maxPeers: LOG_LIMITS.maxPeers })
  let claims: ServiceClaims | undefined
  /** Scans running, per peer: a few at once in all, fewer per peer, so one peer cannot take them all. */
  const scans = new Map<string, number>()
  let scanning = 0

  /** A scan of the files for `peer`, counted against the limits of scans at once. */
  async function * scan (peer: string, q: Parameters<LogStore['query']>[0]): AsyncGenerator<LogEntry> {
    const mine = scans.get(peer) ?? 0
    if (scanning >= LOG_LIMITS.maxScans || mine >= LOG_LIMITS.maxScansPerPeer) {
      throw new OverloadedError(`the log service is already reading its files for ${scanning} queries (${mine} of them yours): try again shortly`)
    }
    scanning++
    scans.set(peer, mine + 1)
    try {
      yield * store.query(q)
    } finally {
      scanning--
      const left = (scans.get(peer) ?? 1) - 1
      if (left === 0) scans.delete(peer)
      else scans.set(peer, left)
    }
  }

  /** Charges a batch to its sender's rate (libp2p peers and Go services alike). */
  function charge (caller: string, entries: readonly LogEntry[], at: number): void {
    const cost = Math.max(LOG_LIMITS.minBatchCost, JSON.stringify(entries).length)
    const waitMs = buckets.take(caller, cost, at)
    if (waitMs > 0) throw new QuotaExceededError(`peer ${caller} is sending log entries faster than ${LOG_LIMITS.peerBytesPerSec} bytes/s: try again in ${waitMs} ms`, { reason: 'rate', retryAfterMs: waitMs })
  }

  async function admit (caller: string, entries: readonly LogEntry[], at: number): Promise<LogEntry[]> {
    if (claims === undefined) throw new NotStartedError('the log service is not started')
    charge(caller, entries, at)
    // A node ships its own log only: the peer id comes from the connection.
    const foreign = entries.find(e => e.peerId !== caller)
    if (foreign !== undefined) throw new UnauthorizedError(`entries must carry the sender's own peer id (got ${foreign.peerId.slice(0, 16)}…)`)
    for (const name of new Set(entries.map(e => e.service))) {
      if (!await claims.provides(caller, name)) {
        throw new UnauthorizedError(`peer ${caller} does not provide "${name}": a log entry's service must be a name its sender is registered for`)
      }
    }
    return entries.map(e => stamp(e, at))
  }

  let http: HttpLog | undefined
  // Filled in at start: the registration (read after start, from a copy of this definition that
  // shares this object) then carries the URL, and the registry offers this node to Go services.
  const meta: Record<string, string> = {}
  return defineService({
    name: 'log',
    version: '1.1.0',
    meta,
    methods: {
      append: defineMethod({
        params: z.strictObject({ entries: z.array(logEntry).min(1).max(1_000) }),
        result: z.object({ stored: z.number(), duplicates: z.number() }),
        idempotent: true,
        handler: async ({ entries }, call) => store.append(call.caller, await admit(call.caller, entries as LogEntry[], now()))
      }),
      /** The matching entries, `limit` from one end of the log, streamed oldest first. */
      query: defineMethod({
        params: z.strictObject({ ...filters, limit: z.number().int().min(1).max(MAX_QUERY_LIMIT).optional(), end: z.enum(['oldest', 'newest']).optional() }),
        idempotent: true,
        handler: (q, call) => scan(call.caller, q)
      }),
      follow: defineMethod({
        params: z.strictObject(filters),
        handler: async function * (q, call) {
          const queue: LogEntry[] = []
          let wake: (() => void) | undefined
          let overflow = false
          const unsubscribe = store.subscribe(e => {
            if (!matches(e, q)) return
            if (queue.length >= MAX_FOLLOW_BACKLOG) overflow = true
            else queue.push(e)
            wake?.()
          })
          const onAbort = (): void => { wake?.() }
          call.signal.addEventListener('abort', onAbort)
          try {
            if (q.since !== undefined) {
              let last: LogEntry | undefined
              for await (const e of scan(call.caller, { ...q, limit: MAX_QUERY_LIMIT, end: 'oldest' })) { last = e; yield e }
              // Live entries stored while we read the past are already in the queue; skip repeats.
              if (last !== undefined) { const l = last; queue.splice(0, queue.findIndex(e => e.peerId === l.peerId && e.inc === l.inc && e.seq === l.seq) + 1) }
            }
            while (!call.signal.aborted) {
              if (overflow) throw new OverloadedError('this follower fell too far behind; follow again with --since')
              const e = queue.shift()
              if (e !== undefined) { yield e; continue }
              await new Promise<void>(resolve => { wake = resolve })
              wake = undefined
            }
          } finally {
            unsubscribe()
            call.signal.removeEventListener('abort', onAbort)
          }
        }
      })
    },
    start: async ctx => {
      claims = new ServiceClaims(ctx, now)
      await store.open()
      if (opts.httpCompat === undefined) return
      // The Go services' POST /log (--http-compat); loaded only then, as it loads fastify. Each
      // line's sender is `http:<address>` (HttpLog), charged to its rate like any peer.
      const { HttpLog } = await import('./http-log.js')
      const append = async (entries: LogEntry[]): Promise<unknown> => {
        const sender = entries[0].peerId
        charge(sender, entries, now())
        return store.append(sender, entries)
      }
      http = new HttpLog({ listen: opts.httpCompat, append, now, log: ctx.log })
      meta.httpUrl = await http.start()
      ctx.serving(meta.httpUrl)
    },
    stop: async () => {
      await http?.stop()
      await store.close()
    }
  })
}

/** The log's own receive time as `ts`; the sender's as `sentAt` when it is within the skew allowed. */
function stamp (e: LogEntry, at: number): LogEntry {
  const { ts, sentAt: _ignored, ...rest } = e
  const plausible = ts >= at - LOG_LIMITS.maxSentAtAgeMs && ts <= at + LOG_LIMITS.maxSentAtAheadMs
  return { ...rest, ts: at, ...(plausible ? { sentAt: ts } : {}) }
}
