import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import type { z } from 'zod'
import { GdsError, InvalidMessageError, PeerUnavailableError, RequestTimeoutError, fromWire, toGdsError } from './errors.js'
import type { Logger } from './logger.js'
import { REQUEST_TIMEOUT_MS } from './protocols.js'
import { Channel, validate } from './framing.js'
import { Requests } from './requests.js'
import { StreamServer } from './stream-server.js'
import { muxAnswer, muxCancel, muxId, muxRequest, type MuxAnswer } from './schemas.js'

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

/** The client's side of one multiplexed stream. Broken for good once the stream fails. */
export class MuxLink {
  private readonly requests: Requests<MuxAnswer>

  constructor (private readonly ch: Channel, private readonly label: string, maxInFlight: number) {
    this.requests = new Requests({ maxInFlight })
    void this.read()
  }

  get open (): boolean { return this.requests.failure === undefined }

  async request<S extends z.ZodType> (req: unknown, schema: S, timeoutMs: number, signal?: AbortSignal): Promise<z.infer<S>> {
    const a = await this.requests.request(id => { this.send({ id, req }) }, {
      timeoutMs,
      timedOut: () => new RequestTimeoutError(`no answer from ${this.label} within ${timeoutMs} ms`),
      signal,
      cancelled: () => new RequestTimeoutError(`request to ${this.label} was cancelled`),
      isAnswer: isSingle
    })
    if (!a.ok) throw fromWire(a.error)
    return validate(a.result, schema)
  }

  /**
   * A request answered in several frames (a server handler that returned `streamed(...)`):
   * yields each item, checked against `schema`, until the end. `idleMs` bounds the wait for
   * each frame, not the whole answer, so a big answer is not cut short on a slow link. A
   * consumer that stops early tells the server, which stops producing.
   */
  async * stream<S extends z.ZodType> (req: unknown, schema: S, idleMs: number, signal?: AbortSignal): AsyncGenerator<z.infer<S>> {
    const idle = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => { idle.abort() }, idleMs)
    }
    const frames = this.requests.stream(async id => { arm(); this.send({ id, req }) }, {
      signal: signal === undefined ? idle.signal : AbortSignal.any([signal, idle.signal]),
      cancelled: () => idle.signal.aborted
        ? new RequestTimeoutError(`${this.label} sent nothing for ${idleMs} ms in the middle of an answer`)
        : new RequestTimeoutError(`request to ${this.label} was cancelled`),
      isLast: f => !('item' in f),
      cancel: id => { this.send({ id, cancel: true }) }
    })
    try {
      for await (const f of frames) {
        arm()
        if ('item' in f) yield validate(f.item, schema)
        else if ('ok' in f && !f.ok) throw fromWire(f.error)
        else if ('ok' in f) throw new InvalidMessageError(`${this.label} answered a streamed request with a single answer`)
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** A send is one synchronous buffer underneath, so concurrent writes never interleave. */
  private send (frame: unknown): void {
    this.ch.write(frame).catch((err: any) => { this.requests.fail(new PeerUnavailableError(`stream to ${this.label} failed: ${err?.message ?? err}`, { cause: err })) })
  }

  close (): void {
    this.requests.fail(new PeerUnavailableError(`stream to ${this.label} closed`))
    this.ch.abort(new Error('link closed'))
  }

  private async read (): Promise<void> {
    try {
      for (;;) {
        const a = await this.ch.read(muxAnswer)
        // id 0 is about the whole stream (the server could not read our framing).
        if (a.id === 0 && 'ok' in a && !a.ok) throw fromWire(a.error)
        this.requests.deliver(a.id, a)
      }
    } catch (err: any) {
      this.requests.fail(err instanceof GdsError ? err : new PeerUnavailableError(`stream to ${this.label} closed: ${err?.message ?? err}`, { cause: err }))
      // Nothing more can be read on it: let both sides go.
      this.ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/**
 * Requests to one peer over one MuxLink, opened on first use and again after it broke.
 * A new peer (the registry came back with another identity) gets a new link.
 */
export class MuxClient {
  private link?: { peer: string, link: Promise<MuxLink> }

  constructor (private readonly libp2p: Pick<Libp2p, 'dialProtocol'>, private readonly protocol: string, private readonly opts: MuxOptions & { timeoutMs?: number }) {}

  async request<S extends z.ZodType> (peer: PeerId | Multiaddr, req: unknown, schema: S, opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<z.infer<S>> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS
    const link = await this.open(peer, timeoutMs)
    return link.request(req, schema, timeoutMs, opts.signal)
  }

  /** A request whose answer is several items (MuxLink.stream); `idleMs` bounds each wait. */
  async * stream<S extends z.ZodType> (peer: PeerId | Multiaddr, req: unknown, schema: S, opts: { idleMs?: number, signal?: AbortSignal } = {}): AsyncGenerator<z.infer<S>> {
    const idleMs = opts.idleMs ?? this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS
    const link = await this.open(peer, idleMs)
    yield * link.stream(req, schema, idleMs, opts.signal)
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

/** What a serveMux handler returns for an answer in several frames (items, then the end). */
export class Streamed {
  constructor (readonly items: Iterable<unknown> | AsyncIterable<unknown>) {}
}

export function streamed (items: Iterable<unknown> | AsyncIterable<unknown>): Streamed {
  return new Streamed(items)
}

/** A frame that answers a single request (not an item or the end of a streamed one). */
function isSingle (f: MuxAnswer): f is Extract<MuxAnswer, { ok: boolean }> {
  return 'ok' in f
}

export interface ServeOptions<S extends z.ZodType> extends MuxOptions {
  requestSchema: S
  maxInboundStreams: number
  log: Logger
}

/**
 * Serves multiplexed requests on `protocol` (the loop is stream-server.ts). A frame of the wrong
 * shape whose id can be read gets its typed error on that id; one without a readable id breaks
 * the framing.
 */
export async function serveMux<S extends z.ZodType> (node: Pick<Libp2p, 'handle'>, protocol: string, handler: (req: z.infer<S>, connection: Connection) => Promise<unknown>, opts: ServeOptions<S>): Promise<void> {
  const frame = muxRequest(opts.requestSchema)
  const server = new StreamServer<z.infer<S>>({
    protocol,
    maxBytes: opts.maxBytes,
    maxInFlight: opts.maxInFlight,
    noun: 'request',
    coalesce: false,
    log: opts.log,
    parse: json => {
      const id = muxId.safeParse(json)
      if (!id.success) throw new InvalidMessageError('a request frame needs a numeric "id" (1 or more) and a "req"')
      if (muxCancel.safeParse(json).success) return { id: id.data.id, cancel: true }
      try {
        return { id: id.data.id, req: (validate(json, frame) as { req: z.infer<S> }).req }
      } catch (err) {
        return { id: id.data.id, refused: toGdsError(err) }
      }
    },
    handle: async (req, connection) => {
      const out = await handler(req, connection)
      return out instanceof Streamed ? { items: out.items } : { result: out }
    }
  })
  await node.handle(protocol, (stream, connection) => { void server.serve(stream, connection) },
    { maxInboundStreams: opts.maxInboundStreams, runOnLimitedConnection: false })
}
