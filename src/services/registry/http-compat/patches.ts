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
}

/** Pause before try n + 1 (n from 1): 100, 200, 400 ms... */
const RETRY_BASE_MS = 100
/** The initial patch is retried this often while the connection is refused. */
const REFUSED_RETRY_MS = 25

/**
 * POSTs patches to the update URLs of dependents. One POST in flight per dependent, so its
 * patches arrive in order; what changes meanwhile is merged into the next one (the last word
 * on each provider wins), so a slow dependent costs one pending patch, never a growing queue.
 */
export class PatchSender {
  private readonly queues = new Map<string, Queue>()
  private stopped = false

  constructor (private readonly opts: PatchSenderOptions) {}

  /** Queues a patch for dependent `key` (merged with what is still waiting for it). */
  send (key: string, updateUrl: string, patch: GoPatch): void {
    if (this.stopped || (patch.Added.length === 0 && patch.Removed.length === 0)) return
    let q = this.queues.get(key)
    if (q === undefined) {
      q = { updateUrl, pending: new Map(), sending: false }
      this.queues.set(key, q)
    }
    q.updateUrl = updateUrl
    for (const e of patch.Added) q.pending.set(entryKey(e), { entry: e, added: true })
    for (const e of patch.Removed) q.pending.set(entryKey(e), { entry: e, added: false })
    if (!q.sending) void this.drain(key, q)
  }

  /** The dependent is gone: what waits for it is dropped. */
  drop (key: string): void {
    this.queues.get(key)?.pending.clear()
    this.queues.delete(key)
  }

  stop (): void {
    this.stopped = true
    for (const q of this.queues.values()) q.pending.clear()
    this.queues.clear()
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

  private async drain (key: string, q: Queue): Promise<void> {
    q.sending = true
    try {
      while (q.pending.size > 0 && !this.stopped && this.queues.get(key) === q) {
        const items = [...q.pending.values()]
        q.pending.clear()
        const patch: GoPatch = { Added: items.filter(i => i.added).map(i => i.entry), Removed: items.filter(i => !i.added).map(i => i.entry) }
        try {
          await this.deliver(q.updateUrl, patch)
        } catch (err: any) {
          this.opts.log.warn({ url: q.updateUrl, err: describe(err) }, `cannot deliver a patch after ${this.opts.attempts} tries; it is dropped`)
        }
      }
    } finally {
      q.sending = false
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

interface Queue {
  updateUrl: string
  pending: Map<string, { entry: PatchEntry, added: boolean }>
  sending: boolean
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
