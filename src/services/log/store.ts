/**
 * The cluster log on disk: JSON lines in `current.jsonl`, rotated to `log-1.jsonl` (newest) …
 * `log-<keep>.jsonl` when it passes `maxBytes`.
 *
 * Durability: `append` resolves only after its batch is written and fdatasync'ed, so an entry
 * the shipper saw acknowledged survives a crash of the log node (one fsync per batch of up to
 * 1,000 entries). Idempotence: entries are keyed by (peerId, inc, seq) and arrive in order per
 * sender, so anything at or below the highest seq stored for its (peerId, inc) is a duplicate
 * (a batch resent after a timeout) and skipped. The high-water marks are rebuilt by scanning
 * the files at start. Queries scan the files too: fine for a teaching-sized cluster log.
 */
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { LogEntry } from '../../node/log-shipper.js'
import { NotStartedError } from '../../node/errors.js'

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
export type Level = typeof LEVELS[number]

export interface LogStoreOptions {
  dir: string
  /** Rotate `current.jsonl` past this size. @default 16 MiB */
  maxBytes?: number
  /** Rotated files kept. @default 8 */
  keep?: number
}

export interface Query {
  since?: number
  until?: number
  service?: string
  /** Minimum level. */
  level?: Level
  /** @default 100 */
  limit?: number
  /** asc: the oldest `limit` matches; desc: the newest `limit`, newest first. @default 'desc' */
  order?: 'asc' | 'desc'
}

export function matches (e: LogEntry, q: Omit<Query, 'limit' | 'order'>): boolean {
  if (q.since !== undefined && e.ts < q.since) return false
  if (q.until !== undefined && e.ts > q.until) return false
  if (q.service !== undefined && e.service !== q.service) return false
  if (q.level !== undefined && LEVELS.indexOf(e.level as Level) < LEVELS.indexOf(q.level)) return false
  return true
}

export class LogStore {
  private fh?: FileHandle
  private size = 0
  private readonly hwm = new Map<string, number>()
  private readonly listeners = new Set<(e: LogEntry) => void>()
  private chain: Promise<unknown> = Promise.resolve()
  private readonly maxBytes: number
  private readonly keep: number
  /** Lines found unreadable at open (a torn write at a crash, or a foreign file): skipped. */
  badLines = 0

  constructor (private readonly opts: LogStoreOptions) {
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024
    this.keep = opts.keep ?? 8
  }

  private get current (): string { return join(this.opts.dir, 'current.jsonl') }
  private rotated (n: number): string { return join(this.opts.dir, `log-${n}.jsonl`) }

  async open (): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true })
    for await (const e of this.scan(() => { this.badLines++ })) this.mark(e)
    this.fh = await open(this.current, 'a+', 0o600)
    this.size = (await stat(this.current)).size
    // A crash mid-write can leave a torn last line: end it, so the next entry starts clean.
    if (this.size > 0) {
      const last = Buffer.alloc(1)
      await this.fh.read(last, 0, 1, this.size - 1)
      if (last[0] !== 0x0a) { await this.fh.appendFile('\n'); this.size++ }
    }
  }

  async close (): Promise<void> {
    await this.chain.catch(() => {})
    await this.fh?.close()
    this.fh = undefined
  }

  /** Stores the new entries of a batch; resolves once they are on disk. */
  async append (entries: readonly LogEntry[]): Promise<{ stored: number, duplicates: number }> {
    const run = this.chain.then(async () => this.write(entries))
    this.chain = run.catch(() => {})
    return run
  }

  async query (q: Query): Promise<LogEntry[]> {
    const limit = q.limit ?? 100
    const found: LogEntry[] = []
    for await (const e of this.scan()) {
      if (!matches(e, q)) continue
      found.push(e)
      if ((q.order ?? 'desc') === 'asc' && found.length >= limit) return found
      if (found.length > limit * 2) found.splice(0, found.length - limit)
    }
    return (q.order ?? 'desc') === 'asc' ? found.slice(0, limit) : found.slice(-limit).reverse()
  }

  /** New entries as they are stored. Returns the unsubscribe function. */
  subscribe (fn: (e: LogEntry) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private async write (entries: readonly LogEntry[]): Promise<{ stored: number, duplicates: number }> {
    if (this.fh === undefined) throw new NotStartedError('the log store is closed')
    const fresh = entries.filter(e => e.seq > (this.hwm.get(key(e)) ?? 0))
    if (fresh.length > 0) {
      const text = fresh.map(e => JSON.stringify(e)).join('\n') + '\n'
      await this.fh.appendFile(text)
      await this.fh.datasync()
      this.size += Buffer.byteLength(text)
      for (const e of fresh) this.mark(e)
      for (const e of fresh) for (const l of this.listeners) l(e)
      if (this.size > this.maxBytes) await this.rotate()
    }
    return { stored: fresh.length, duplicates: entries.length - fresh.length }
  }

  private async rotate (): Promise<void> {
    await this.fh?.close()
    await rm(this.rotated(this.keep), { force: true })
    for (let n = this.keep - 1; n >= 1; n--) await rename(this.rotated(n), this.rotated(n + 1)).catch(() => {})
    await rename(this.current, this.rotated(1))
    this.fh = await open(this.current, 'a', 0o600)
    this.size = 0
  }

  /** Every stored entry, oldest first. */
  private async * scan (onBad: () => void = () => {}): AsyncGenerator<LogEntry> {
    const files = [...Array.from({ length: this.keep }, (_, i) => this.rotated(this.keep - i)), this.current]
    for (const f of files) {
      let text: string
      try { text = await readFile(f, 'utf8') } catch { continue }
      for (const line of text.split('\n')) {
        if (line === '') continue
        let e: LogEntry
        try { e = JSON.parse(line) } catch { onBad(); continue }
        if (typeof e?.ts !== 'number' || typeof e?.seq !== 'number') { onBad(); continue }
        yield e
      }
    }
  }

  private mark (e: LogEntry): void {
    const k = key(e)
    if (e.seq > (this.hwm.get(k) ?? 0)) this.hwm.set(k, e.seq)
  }
}

function key (e: LogEntry): string {
  return `${e.peerId}\u0000${e.inc}`
}
