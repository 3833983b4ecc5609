import http from 'node:http'
import https from 'node:https'
import type { Logger } from '../../../node/logger.js'
import type { GoPatch, PatchEntry } from './wire.js'

export interface PatchSenderOptions {
  log: Logger
  /** One POST may take this long. */
  timeoutMs: number
  /** Tries per patch before it is given up (the dependent's heartbeats tell if it is gone). */
  attempts: number
  /** What dependent `key` should know now, and where to tell it; undefined: not now (it is down). */
  desired: (key: string) => { updateUrl: string, entries: PatchEntry[] } | undefined
}

/** Pause before try n + 1 (n from 1): 100, 200, 400 ms... */
const RETRY_BASE_MS = 100
/** The initial patch is retried this often while the connection is refused. */
const REFUSED_RETRY_MS = 25

/**
 * Keeps Go dependents told of their providers. Level-triggered: for each dependent it keeps
 * what it has confirmed telling it, and a patch is the difference between that and what the
 * dependent should know now. So a provider that goes and comes back while a POST is on its way
 * costs nothing (no duplicate Added, which the Go services would append twice), a patch that
 * failed is made good by the next one, and a slow dependent has one POST in flight, never a queue.
 */
export class PatchSender {
  /** Per dependent: the entries it was told (confirmed by a 2xx answer). */
  private readonly told = new Map<string, Map<string, PatchEntry>>()
  private readonly sending = new Set<string>()
  private readonly dirty = new Set<string>()
  private stopped = false

  constructor (private readonly opts: PatchSenderOptions) {}

  /** The dependent knows `entries` (its initial patch was delivered, or a restart assumes so). */
  assume (key: string, entries: readonly PatchEntry[]): void {
    this.told.set(key, new Map(entries.map(e => [entryKey(e), e])))
  }

  /** Something it should know may have changed: tell dependent `key` the difference. */
  sync (key: string): void {
    if (this.stopped) return
    this.dirty.add(key)
    if (!this.sending.has(key)) void this.drain(key)
  }

  /** The dependent is gone. */
  drop (key: string): void {
    this.told.delete(key)
    this.dirty.delete(key)
  }

  stop (): void {
    this.stopped = true
    this.told.clear()
    this.dirty.clear()
  }

  /**
   * One patch now, for the caller to wait on (the initial patch of a registration). A refused
   * connection is retried for up to `refusedForMs`: the Go services register before their
   * server listens.
   */
  async deliver (updateUrl: string, patch: GoPatch, refusedForMs = 0): Promise<void> {
    const refusedUntil = Date.now() + refusedForMs
    for (let attempt = 1; ; attempt++) {
      try {
        await this.post(updateUrl, patch)
        return
      } catch (err) {
        if (this.stopped) throw err
        if (isRefused(err) && Date.now() < refusedUntil) { attempt--; await sleep(REFUSED_RETRY_MS); continue }
        if (attempt >= this.opts.attempts) throw err
        await sleep(RETRY_BASE_MS * 2 ** (attempt - 1))
      }
    }
  }

  private async drain (key: string): Promise<void> {
    this.sending.add(key)
    try {
      while (this.dirty.delete(key) && !this.stopped) {
        const want = this.opts.desired(key)
        if (want === undefined) continue
        const told = this.told.get(key) ?? new Map<string, PatchEntry>()
        const next = new Map(want.entries.map(e => [entryKey(e), e]))
        const patch: GoPatch = { Added: [...next].filter(([k]) => !told.has(k)).map(([, e]) => e), Removed: [...told].filter(([k]) => !next.has(k)).map(([, e]) => e) }
        if (patch.Added.length === 0 && patch.Removed.length === 0) continue
        try {
          await this.deliver(want.updateUrl, patch)
          if (!this.stopped) this.told.set(key, next)
        } catch (err: any) {
          // Told again at the next change, or when its heartbeats bring it back.
          this.opts.log.warn({ url: want.updateUrl, err: describe(err) }, `cannot deliver a patch after ${this.opts.attempts} tries`)
        }
      }
    } finally {
      this.sending.delete(key)
    }
  }

  /**
   * node:http, not fetch: fetch refuses the ports on the WHATWG "bad ports" list, 6000 among
   * them, where the Go grading service listens. A redirect is not followed (it could aim the
   * registry anywhere; url-policy.ts checked this URL only).
   */
  private async post (url: string, patch: GoPatch): Promise<void> {
    const body = JSON.stringify(patch)
    const request = url.startsWith('https:') ? https.request : http.request
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, signal: AbortSignal.timeout(this.opts.timeoutMs) }, res => {
        res.resume()
        res.on('end', () => { resolve(res.statusCode ?? 0) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
    if (status < 200 || status > 299) throw new Error(`${url} answered ${status}`)
  }
}

function entryKey (e: PatchEntry): string {
  return `${e.Name}\u0000${e.URL}`
}

/** A connect refused (for a name with several addresses, every one tried was). */
export function isRefused (err: any): boolean {
  return err?.code === 'ECONNREFUSED' || (Array.isArray(err?.errors) && err.errors.some((e: any) => e?.code === 'ECONNREFUSED'))
}

export function describe (err: any): string {
  if (err?.name === 'AbortError') return 'timed out'
  return String(err?.code ?? err?.message ?? err)
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms).unref())
}
