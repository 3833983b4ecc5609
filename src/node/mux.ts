import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import type { z } from 'zod'
import { GdsError, InvalidMessageError, OverloadedError, PeerUnavailableError, RequestTimeoutError, fromWire, toGdsError } from './errors.js'
import type { Logger } from './logger.js'
import { REQUEST_TIMEOUT_MS } from './protocols.js'
import { Channel, validate } from './framing.js'
import { muxAnswer, muxId, muxRequest, type MuxAnswer } from './schemas.js'

/**
 * Requests and answers multiplexed on one long-lived stream: `{id, req}` one way,
 * `{id, ok, result | error}` the other, answers in any order. Opening a stream costs a
 * multistream-select round trip and a handler on both sides; a stream per request capped the
 * registry at about 1,000 registrations/s, so a service keeps one stream to the registry.
 */

export interface MuxOptions {
  maxBytes: number
  /** Requests in flight on one stream; a client queues beyond it, a server refuses beyond it. */
  maxInFlight: number
}

interface Ticket {
  granted: boolean
  ready: Promise<void>
  wake: () => void
}

interface Waiter {
  resolve: (answer: MuxAnswer) => void
  reject: (err: GdsError) => void
}

/** The client's side of one multiplexed stream. Broken for good once the stream fails. */
export class MuxLink {
  private readonly waiters = new Map<number, Waiter>()
  /** Requests waiting for an in-flight slot, first come first served. */
  private readonly queue: Ticket[] = []
  private active = 0
  private nextId = 0
  private failure?: GdsError

  constructor (private readonly ch: Channel, private readonly label: string, private readonly maxInFlight: number) {
    void this.read()
  }

  get open (): boolean { return this.failure === undefined }

  async request<S extends z.ZodType> (req: unknown, schema: S, timeoutMs: number, signal?: AbortSignal): Promise<z.infer<S>> {
    const answer = Promise.withResolvers<MuxAnswer>()
    // It may be rejected (link failed, timeout) while we still wait for a slot.
    answer.promise.catch(() => {})
    const timer = setTimeout(() => { answer.reject(new RequestTimeoutError(`no answer from ${this.label} within ${timeoutMs} ms`)) }, timeoutMs)
    const onAbort = (): void => { answer.reject(new RequestTimeoutError(`request to ${this.label} was cancelled`)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const ticket = this.acquire()
    const id = ++this.nextId
    try {
      await Promise.race([ticket.ready, answer.promise])
      if (this.failure !== undefined) throw this.failure
      this.waiters.set(id, answer)
      // A send is one synchronous buffer underneath, so concurrent writes never interleave.
      this.ch.write({ id, req }).catch((err: any) => { this.fail(new PeerUnavailableError(`stream to ${this.label} failed: ${err?.message ?? err}`, { cause: err })) })
      const a = await answer.promise
      if (!a.ok) throw fromWire(a.error)
      return validate(a.result, schema)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.waiters.delete(id)
      this.release(ticket)
    }
  }

  close (): void {
    this.fail(new PeerUnavailableError(`stream to ${this.label} closed`))
    this.ch.abort(new Error('link closed'))
  }

  /** An in-flight slot now, or a place in the queue for one. */
  private acquire (): Ticket {
    let wake = (): void => {}
    const ticket: Ticket = { granted: false, ready: new Promise<void>(resolve => { wake = resolve }), wake: () => { ticket.granted = true; wake() } }
    if (this.active < this.maxInFlight && this.queue.length === 0) {
      this.active++
      ticket.wake()
    } else {
      this.queue.push(ticket)
    }
    return ticket
  }

  /** A finished request hands its slot to the first in the queue; one that timed out queued leaves it. */
  private release (ticket: Ticket): void {
    if (!ticket.granted) {
      this.queue.splice(this.queue.indexOf(ticket), 1)
      return
    }
    const next = this.queue.shift()
    if (next !== undefined) next.wake()
    else this.active--
  }

  private async read (): Promise<void> {
    try {
      for (;;) {
        const a = await this.ch.read(muxAnswer)
        // An answer to nobody (its request timed out) is dropped; id 0 is about the whole stream.
        if (a.id === 0 && !a.ok) throw fromWire(a.error)
        this.waiters.get(a.id)?.resolve(a)
      }
    } catch (err: any) {
      this.fail(err instanceof GdsError ? err : new PeerUnavailableError(`stream to ${this.label} closed: ${err?.message ?? err}`, { cause: err }))
    }
  }

  private fail (err: GdsError): void {
    if (this.failure !== undefined) return
    this.failure = err
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
    // Queued requests wake, see the failure and leave (slot counts no longer matter).
    for (const t of this.queue.splice(0)) t.wake()
  }
}

/**
 * Requests to one peer over one MuxLink, opened on first use and again after it broke.
 * A new peer (the registry came back with another identity) gets a new link.
 */
export class MuxClient {
  private link?: { peer: string, link: Promise<MuxLink> }

  constructor (private readonly libp2p: Libp2p<any>, private readonly protocol: string, private readonly opts: MuxOptions & { timeoutMs?: number }) {}

  async request<S extends z.ZodType> (peer: PeerId | Multiaddr, req: unknown, schema: S, opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<z.infer<S>> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS
    const link = await this.open(peer, timeoutMs)
    return link.request(req, schema, timeoutMs, opts.signal)
  }

  close (): void {
    void this.link?.link.then(l => { l.close() }, () => {})
    this.link = undefined
  }

  private async open (peer: PeerId | Multiaddr, timeoutMs: number): Promise<MuxLink> {
    const key = peer.toString()
    const current = this.link
    if (current !== undefined && current.peer === key) {
      const link = await current.link.catch(() => undefined)
      if (link?.open === true) return link
      if (this.link === current) this.link = undefined
      return this.open(peer, timeoutMs)
    }
    this.close()
    const opening = this.dial(peer, timeoutMs)
    this.link = { peer: key, link: opening }
    return opening
  }

  private async dial (peer: PeerId | Multiaddr, timeoutMs: number): Promise<MuxLink> {
    let stream: Stream
    try {
      stream = await this.libp2p.dialProtocol(peer, this.protocol, { signal: AbortSignal.timeout(timeoutMs) })
    } catch (err: any) {
      if (err?.name === 'AbortError' || err?.name === 'TimeoutError') throw new RequestTimeoutError(`cannot open ${this.protocol} within ${timeoutMs} ms`)
      throw new PeerUnavailableError(`cannot open ${this.protocol}: ${err?.message ?? err}`, { cause: err })
    }
    return new MuxLink(new Channel(stream, this.opts.maxBytes), `${this.protocol} on ${peer.toString()}`, this.opts.maxInFlight)
  }
}

export interface ServeOptions<S extends z.ZodType> extends MuxOptions {
  requestSchema: S
  maxInboundStreams: number
  log: Logger
}

/**
 * Serves multiplexed requests: each inbound stream is read frame by frame, each request handled
 * as it arrives and answered when done. A frame of the wrong shape whose id can be read gets its
 * typed error and the stream goes on; garbage, an oversized or a cut-short frame leaves the
 * stream out of step, so it is answered on id 0 and closed. Nothing a peer sends reaches the
 * handler unvalidated. A handler's GdsError goes back as is; any other error as INTERNAL.
 */
export async function serveMux<S extends z.ZodType> (node: Libp2p<any>, protocol: string, handler: (req: z.infer<S>, connection: Connection) => Promise<unknown>, opts: ServeOptions<S>): Promise<void> {
  const frame = muxRequest(opts.requestSchema)
  await node.handle(protocol, (stream, connection) => { void serveStream(stream, connection, frame, handler, opts, protocol) },
    { maxInboundStreams: opts.maxInboundStreams, runOnLimitedConnection: false })
}

async function serveStream<S extends z.ZodType> (stream: Stream, connection: Connection, frame: ReturnType<typeof muxRequest<S>>,
  handler: (req: z.infer<S>, connection: Connection) => Promise<unknown>, opts: ServeOptions<S>, protocol: string): Promise<void> {
  const ch = new Channel(stream, opts.maxBytes)
  const peer = connection.remotePeer.toString()
  const running = new Map<number, Promise<void>>()
  const refuse = (id: number, e: GdsError): void => {
    opts.log.warn({ peer, protocol, id, code: e.code }, e.message)
    void ch.write({ id, ok: false, error: e.toWire() }).catch(() => {})
  }
  try {
    for (;;) {
      let json: unknown
      try {
        json = await ch.readJson()
      } catch (err) {
        if (endedBetweenFrames(err)) break
        throw err
      }
      const id = muxId.safeParse(json)
      if (!id.success) throw new InvalidMessageError('a request frame needs a numeric "id" (1 or more) and a "req"')
      const n = id.data.id
      let req: z.infer<S>
      try {
        req = (validate(json, frame) as { req: z.infer<S> }).req
      } catch (err) {
        refuse(n, toGdsError(err))
        continue
      }
      if (running.has(n)) { refuse(n, new InvalidMessageError(`request id ${n} is already in flight on this stream`)); continue }
      if (running.size >= opts.maxInFlight) { refuse(n, new OverloadedError(`more than ${opts.maxInFlight} requests in flight on one stream`)); continue }
      running.set(n, answer(n, req).finally(() => { running.delete(n) }))
    }
  } catch (err: any) {
    const e = err?.name === 'UnexpectedEOFError' ? new InvalidMessageError('the stream ended before a whole request arrived') : toGdsError(err)
    if (e.code !== 'INVALID_MESSAGE' && e.code !== 'FRAME_TOO_LARGE') {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    refuse(0, e)
  }
  // The remote ended its side (or broke the framing): answer what is in flight, then close ours.
  await Promise.all(running.values())
  await ch.close()

  async function answer (id: number, req: z.infer<S>): Promise<void> {
    let out: unknown
    try {
      out = { id, ok: true, result: await handler(req, connection) }
    } catch (err) {
      const e = toGdsError(err)
      if (e.code === 'INTERNAL') opts.log.error({ err, peer, protocol }, 'request failed')
      else opts.log.debug({ peer, protocol, code: e.code }, e.message)
      out = { id, ok: false, error: e.toWire() }
    }
    await ch.write(out).catch(() => {})
  }
}

/**
 * Whether a read failed because the remote ended the stream where a frame would start (a clean
 * end), not inside one. The length-prefixed reader reports both as UnexpectedEOFError; a clean
 * end is the one that had not got the first byte of a length.
 */
function endedBetweenFrames (err: any): boolean {
  return err?.name === 'UnexpectedEOFError' && / 0\/1 bytes/.test(String(err.message))
}
