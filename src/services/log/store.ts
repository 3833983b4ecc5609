/**
 * The cluster log on disk: JSON lines in `current.jsonl`, rotated to `log-1.jsonl` (newest) …
 * `log-<keep>.jsonl` when it passes `maxBytes`.
 *
 * Durability: `append` resolves only after its batch is written and fdatasync'ed, so an entry
 * the shipper saw acknowledged survives a crash of the log node (one fsync per batch of up to
 * 1,000 entries). Idempotence: entries are keyed by (peerId, inc, seq) and arrive in order per
 * sender, so anything at or below the highest seq stored for its (peerId, inc) is a duplicate
 * (a batch resent after a timeout) and skipped. The high-water marks are rebuilt by scanning
 * the files at start.
 *
 * Fair share: rotation drops the oldest file, whoever wrote it, so without a cap one chatty
 * peer rotates away everyone's history. The store counts each peer's bytes in every file kept.
 * A peer holding more than `peerShare` of the whole capacity (maxBytes × (keep + 1)) may go on
 * writing only while the file the next rotation drops holds no entry of a peer within its
 * share: alone (or among other loud peers) it rotates freely, but it never pushes out the
 * entries of the others; its batches are refused with QuotaExceededError until theirs age out.
 *
 * Scans (queries, the past of a follow, the start-up scan) read the files line by line, so
 * memory stays flat whatever the log's size; a scan reads the files as they were when it began.
 */
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { LOG_LIMITS } from '../../node/config.js'
import type { LogEntry } from '../../node/log-shipper.js'
import { NotStartedError, QuotaExceededError } from '../../node/errors.js'

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
export type Level = typeof LEVELS[number]

export interface LogStoreOptions {
  dir: string
  /** Rotate `current.jsonl` past this size. @default 16 MiB */
  maxBytes?: number
  /** Rotated files kept. @default 8 */
  keep?: number
  /** The fraction of the whole capacity (maxBytes × (keep + 1)) one peer's entries may hold. @default LOG_LIMITS.peerShare (0.25) */
  peerShare?: number
}

export interface Filters {
  since?: number
  until?: number
  service?: string
  /** Minimum level. */
  level?: Level
}

export interface Query extends Filters {
  /** @default 100 */
  limit?: number
  /** Which end of the log the `limit` matches come from; either way they come oldest first. @default 'newest' */
  end?: 'oldest' | 'newest'
}

export function matches (e: LogEntry, q: Filters): boolean {
  if (q.since !== undefined && e.ts < q.since) return false
  if (q.until !== undefined && e.ts > q.until) return false
  if (q.service !== undefined && e.service !== q.service) return false
  if (q.level !== undefined && LEVELS.indexOf(e.level as Level) < LEVELS.indexOf(q.level)) return false
  return true
}

/** The files of one scan, opened at its start: a rotation meanwhile renames them, not what they hold. */
interface Snapshot { files: Array<{ fh: FileHandle, size: number, slot: number }> }

export class LogStore {
  private fh?: FileHandle
  private size = 0
  private readonly hwm = new Map<string, number>()
  private readonly listeners = new Set<(e: LogEntry) => void>()
  private chain: Promise<unknown> = Promise.resolve()
  private readonly maxBytes: number
  private readonly keep: number
  private readonly peerShareBytes: number
  /** Bytes per peer in each file kept: index 0 is current.jsonl, n is log-n.jsonl. */
  private usage: Array<Map<string, number>> = []
  /** Lines found unreadable at open (a torn write at a crash, or a foreign file): skipped. */
  badLines = 0

  constructor (private readonly opts: LogStoreOptions) {
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024
    this.keep = opts.keep ?? 8
    this.peerShareBytes = Math.floor(this.maxBytes * (this.keep + 1) * (opts.peerShare ?? LOG_LIMITS.peerShare))
  }

  private get current (): string { return join(this.opts.dir, 'current.jsonl') }
  private rotated (n: number): string { return join(this.opts.dir, `log-${n}.jsonl`) }
  /** Oldest first, current last; a file's slot is 0 for current.jsonl, n for log-n.jsonl. */
  private get files (): Array<{ path: string, slot: number }> {
    const rotated = Array.from({ length: this.keep }, (_, i) => ({ path: this.rotated(this.keep - i), slot: this.keep - i }))
    return [...rotated, { path: this.current, slot: 0 }]
  }

  async open (): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true })
    this.usage = Array.from({ length: this.keep + 1 }, () => new Map())
    const snap = await this.snapshot()
    try {
      for (const file of snap.files) {
        const use = this.usage[file.slot]
        for await (const { e, bytes } of this.lines(file, () => { this.badLines++ })) {
          this.mark(e)
          use.set(e.peerId, (use.get(e.peerId) ?? 0) + bytes)
        }
      }
    } finally {
      await closeAll(snap)
    }
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

  /** Bytes of this peer's entries in the files kept. */
  usageOf (peerId: string): number {
    return this.usage.reduce((sum, m) => sum + (m.get(peerId) ?? 0), 0)
  }

  /**
   * Stores the new entries of a batch (all from `peerId`); resolves once they are on disk.
   * Rejects with QuotaExceededError, storing nothing, past the peer's share.
   */
  async append (peerId: string, entries: readonly LogEntry[]): Promise<{ stored: number, duplicates: number }> {
    const run = this.chain.then(async () => this.write(peerId, entries))
    this.chain = run.catch(() => {})
    return run
  }

  /** The matching entries, `limit` of them from one end, oldest first, read from disk as they are yielded. */
  async * query (q: Query): AsyncGenerator<LogEntry> {
    const limit = q.limit ?? 100
    const snap = await this.snapshot()
    try {
      let skip = 0
      // The newest `limit`: count the matches first, so no window of entries is held in memory.
      if ((q.end ?? 'newest') === 'newest') {
        let n = 0
        for await (const e of this.entries(snap, q.since)) if (matches(e, q)) n++
        skip = Math.max(0, n - limit)
      }
      let sent = 0
      for await (const e of this.entries(snap, q.since)) {
        if (!matches(e, q)) continue
        if (skip > 0) { skip--; continue }
        yield e
        if (++sent >= limit) return
      }
    } finally {
      await closeAll(snap)
    }
  }

  /** New entries as they are stored. Returns the unsubscribe function. */
  subscribe (fn: (e: LogEntry) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private async write (peerId: string, entries: readonly LogEntry[]): Promise<{ stored: number, duplicates: number }> {
    if (this.fh === undefined) throw new NotStartedError('the log store is closed')
    const fresh = entries.filter(e => e.seq > (this.hwm.get(key(e)) ?? 0))
    if (fresh.length > 0) {
      const lines = fresh.map(e => JSON.stringify(e) + '\n')
      const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0)
      const used = this.usageOf(peerId)
      if (used + bytes > this.peerShareBytes && this.othersAtRisk(peerId)) {
        throw new QuotaExceededError(`peer ${peerId} holds ${used} bytes of the log, more than its share (${this.peerShareBytes}): its entries are refused while writing more would rotate away other peers' entries`, { reason: 'share', retryAfterMs: 10_000 })
      }
      await this.fh.appendFile(lines.join(''))
      await this.fh.datasync()
      this.size += bytes
      this.usage[0].set(peerId, (this.usage[0].get(peerId) ?? 0) + bytes)
      for (const e of fresh) this.mark(e)
      for (const e of fresh) for (const l of this.listeners) l(e)
      if (this.size > this.maxBytes) await this.rotate()
    }
    return { stored: fresh.length, duplicates: entries.length - fresh.length }
  }

  /** Whether the file the next rotation drops holds entries of a peer (not `peerId`) within its share. */
  private othersAtRisk (peerId: string): boolean {
    for (const p of this.usage[this.keep].keys()) if (p !== peerId && this.usageOf(p) <= this.peerShareBytes) return true
    return false
  }

  private async rotate (): Promise<void> {
    await this.fh?.close()
    await rm(this.rotated(this.keep), { force: true })
    for (let n = this.keep - 1; n >= 1; n--) await rename(this.rotated(n), this.rotated(n + 1)).catch(() => {})
    await rename(this.current, this.rotated(1))
    this.fh = await open(this.current, 'a', 0o600)
    this.size = 0
    this.usage.pop()
    this.usage.unshift(new Map())
  }

  private async snapshot (): Promise<Snapshot> {
    const files: Snapshot['files'] = []
    for (const { path, slot } of this.files) {
      try {
        const fh = await open(path, 'r')
        files.push({ fh, size: (await fh.stat()).size, slot })
      } catch (err: any) {
        if (err?.code !== 'ENOENT') { await closeAll({ files }); throw err }
      }
    }
    return { files }
  }

  /** Every entry of a snapshot, oldest first. */
  private async * entries (snap: Snapshot, since?: number): AsyncGenerator<LogEntry> {
    for (const f of snap.files) {
      // Entries are stored in receive-time order: a file whose last entry is older holds none since.
      if (since !== undefined && (await lastTs(f)) < since) continue
      for await (const { e } of this.lines(f)) yield e
    }
  }

  /** The entries of one file up to its size at the snapshot, with the bytes each line takes. */
  private async * lines (f: Snapshot['files'][number], onBad: () => void = () => {}): AsyncGenerator<{ e: LogEntry, bytes: number }> {
    for await (const line of readLines(f.fh, f.size)) {
      if (line === undefined) { onBad(); continue }
      if (line === '') continue
      let e: LogEntry
      try { e = JSON.parse(line) } catch { onBad(); continue }
      if (typeof e?.ts !== 'number' || typeof e?.seq !== 'number' || typeof e?.peerId !== 'string') { onBad(); continue }
      yield { e, bytes: Buffer.byteLength(line) + 1 }
    }
  }

  private mark (e: LogEntry): void {
    const k = key(e)
    if (e.seq > (this.hwm.get(k) ?? 0)) this.hwm.set(k, e.seq)
  }
}

/** Read in chunks of this size; a line longer than MAX_LINE is no entry (entries are ≤ 16 KiB). */
const CHUNK = 64 * 1024
const MAX_LINE = 64 * 1024

/**
 * The lines of the first `size` bytes of a file, without their newline, read a chunk at a time
 * (memory stays at a chunk and a line). An overlong line is yielded as undefined and skipped.
 */
async function * readLines (fh: FileHandle, size: number): AsyncGenerator<string | undefined> {
  const buf = Buffer.alloc(CHUNK)
  // A character cut by a chunk's end waits in the decoder for the rest of it.
  const decoder = new StringDecoder('utf8')
  let carry = ''
  let overlong = false
  for (let pos = 0; pos < size;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos)
    if (bytesRead === 0) break
    pos += bytesRead
    const text = decoder.write(buf.subarray(0, bytesRead))
    let from = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      const piece = text.slice(from, nl)
      from = nl + 1
      if (overlong) { overlong = false; carry = ''; yield undefined; continue }
      const line = carry === '' ? piece : carry + piece
      carry = ''
      yield line
    }
    if (!overlong) {
      carry += text.slice(from)
      if (carry.length > MAX_LINE) { overlong = true; carry = '' }
    }
  }
  carry += decoder.end()
  // A last line without its newline (a torn write) is still read: the start-up scan counts it bad.
  if (overlong) yield undefined
  else if (carry !== '') yield carry
}

/** The `ts` of a file's last entry, or Infinity when it cannot be read (then the file is scanned). */
async function lastTs (f: Snapshot['files'][number]): Promise<number> {
  const n = Math.min(f.size, MAX_LINE)
  if (n === 0) return -Infinity
  const buf = Buffer.alloc(n)
  await f.fh.read(buf, 0, n, f.size - n)
  const lines = buf.toString('utf8').split('\n').filter(l => l !== '')
  try {
    const ts = JSON.parse(lines.at(-1) ?? '').ts
    return typeof ts === 'number' ? ts : Infinity
  } catch {
    return Infinity
  }
}

async function closeAll (snap: Snapshot): Promise<void> {
  await Promise.all(snap.files.map(async f => f.fh.close().catch(() => {})))
}

function key (e: LogEntry): string {
  return `${e.peerId}\u0000${e.inc}`
}
