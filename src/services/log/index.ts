import { z } from 'zod'
import { OverloadedError, UnauthorizedError } from '../../node/errors.js'
import { MAX_ENTRY_BYTES, type LogEntry } from '../../node/log-shipper.js'
import { defineMethod, defineService, type ServiceDefinition } from '../../node/service.js'
import type { HttpLog } from './http-log.js'
import { LEVELS, LogStore, matches, type LogStoreOptions } from './store.js'

const level = z.enum(LEVELS)
const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** One entry: the fields every entry has, plus any JSON fields, at most 16 KiB in all. */
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

/**
 * The log role: an append-only cluster log. Every node's logger ships here (src/node/log-shipper);
 * `gds logs` reads it. Nothing in `append` logs at info or above: that would feed itself.
 */
export function logService (opts: LogStoreOptions & { httpCompat?: string }): ServiceDefinition {
  const store = new LogStore(opts)
  let http: HttpLog | undefined
  // Filled in at start: the registration (read after start, from a copy of this definition that
  // shares this object) then carries the URL, and the registry offers this node to Go services.
  const meta: Record<string, string> = {}
  return defineService({
    name: 'log',
    version: '1.0.0',
    meta,
    methods: {
      append: defineMethod({
        params: z.strictObject({ entries: z.array(logEntry).min(1).max(1_000) }),
        result: z.object({ stored: z.number(), duplicates: z.number() }),
        idempotent: true,
        handler: async ({ entries }, call) => {
          // A node ships its own log only: the peer id comes from the connection.
          const foreign = entries.find(e => e.peerId !== call.caller)
          if (foreign !== undefined) throw new UnauthorizedError(`entries must carry the sender's own peer id (got ${foreign.peerId.slice(0, 16)}…)`)
          return store.append(entries as LogEntry[])
        }
      }),
      query: defineMethod({
        params: z.strictObject({ ...filters, limit: z.number().int().min(1).max(10_000).optional(), order: z.enum(['asc', 'desc']).optional() }),
        idempotent: true,
        handler: async q => ({ entries: await store.query(q) })
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
              const past = await store.query({ ...q, limit: 10_000, order: 'asc' })
              const last = past.at(-1)
              for (const e of past) yield e
              // Live entries stored while we read the past are already in the queue; skip repeats.
              if (last !== undefined) queue.splice(0, queue.findIndex(e => e.peerId === last.peerId && e.inc === last.inc && e.seq === last.seq) + 1)
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
      await store.open()
      if (opts.httpCompat === undefined) return
      // The Go services' POST /log (--http-compat); loaded only then, as it loads fastify.
      const { HttpLog } = await import('./http-log.js')
      http = new HttpLog({ listen: opts.httpCompat, append: async entries => store.append(entries), now: Date.now, log: ctx.log })
      meta.httpUrl = await http.start()
      ctx.serving(meta.httpUrl)
    },
    stop: async () => {
      await http?.stop()
      await store.close()
    }
  })
}
