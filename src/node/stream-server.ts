import type { Connection, Stream } from '@libp2p/interface'
import { InvalidMessageError, OverloadedError, toGdsError, type GdsError } from './errors.js'
import { Channel } from './framing.js'
import type { Logger } from './logger.js'

/**
 * The server's side of a protocol whose requests carry ids, many in flight on one long-lived
 * stream, answered in any order as they finish (the registry protocol through mux.ts, rpc).
 * Answers are `{id, ok, result | error}`, or items then `{id, end: true}` for a streamed answer.
 */

/** What a frame read from the stream asks for. */
export type Incoming<R> =
  | { id: number, req: R }
  /** The caller stopped consuming a streamed answer. */
  | { id: number, cancel: true }
  /** A frame whose id could be read but not the rest: refused on that id, the stream goes on. */
  | { id: number, refused: GdsError }

export type Answer = { result: unknown } | { items: Iterable<unknown> | AsyncIterable<unknown> }

export interface StreamServerInit<R> {
  protocol: string
  maxBytes: number
  maxInFlight: number
  /** What a request is called in refusals ("more than 64 requests in flight"). */
  noun: string
  /**
   * Answers leaving in one event-loop turn share one write (Channel.send): at rpc rates the
   * write per answer was most of the CPU a call took.
   */
  coalesce: boolean
  log: Logger
  /** Parsed JSON → what it asks for; throws (InvalidMessageError) when the framing is broken. */
  parse: (json: unknown) => Incoming<R>
  /** Serves a request; `cancel` aborts when the caller cancels or the stream breaks. */
  handle: (req: R, connection: Connection, cancel: Cancel) => Promise<Answer>
  /** Fields that name a request in the log line of a failure. */
  describe?: (req: R) => Record<string, unknown>
}

/**
 * A request's cancellation. Its AbortController is made only when a handler asks for the
 * signal: one per request (an AbortSignal is an EventTarget) was 3 % of an rpc provider's CPU,
 * and most handlers never look at it.
 */
export class Cancel {
  private controller?: AbortController
  private done = false

  get signal (): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.done) this.controller.abort()
    }
    return this.controller.signal
  }

  get aborted (): boolean { return this.done }

  abort (): void {
    this.done = true
    this.controller?.abort()
  }
}

/**
 * Each inbound stream is read frame by frame and each request handled as it arrives. A frame
 * refused on its id gets its typed error and the stream goes on; garbage, an oversized or a
 * cut-short frame leaves the stream out of step, so it is answered on id 0 and closed. When the
 * remote ends its side (or broke the framing) what is in flight is answered, then ours closes.
 * Nothing a peer sends reaches the handler unvalidated. A handler's GdsError goes back as is;
 * any other error as INTERNAL.
 */
export class StreamServer<R> {
  private running = 0

  constructor (private readonly init: StreamServerInit<R>) {}

  /** Requests being served right now, over every stream. */
  get inFlight (): number { return this.running }

  async serve (stream: Stream, connection: Connection): Promise<void> {
    const { init } = this
    const ch = new Channel(stream, init.maxBytes)
    const peer = connection.remotePeer.toString()
    const running = new Map<number, { done: Promise<void>, cancel: Cancel }>()
    // A failed write ends the read loop too, so an answer's own failure is moot here.
    const write = (frame: unknown): Promise<void> => (init.coalesce ? ch.send(frame) : ch.write(frame)).catch(ignore)
    const refuse = async (id: number, e: GdsError): Promise<void> => {
      // Shedding load is routine; a warning for each refused request would add to the load.
      if (e.name === 'OverloadedError') init.log.debug({ peer, protocol: init.protocol, id }, e.message)
      else init.log.warn({ peer, protocol: init.protocol, id, code: e.code }, e.message)
      await write({ id, ok: false, error: e.toWire() })
    }
    const answer = async (id: number, req: R, cancel: Cancel): Promise<void> => {
      try {
        const a = await init.handle(req, connection, cancel)
        if ('result' in a) {
          await write({ id, ok: true, result: a.result })
          return
        }
        for await (const item of a.items) {
          if (cancel.aborted) break
          await write({ id, item })
        }
        await write({ id, end: true })
      } catch (err) {
        const e = toGdsError(err)
        if (e.name === 'InternalError') init.log.error({ err, peer, protocol: init.protocol, ...init.describe?.(req) }, 'request failed')
        else init.log.debug({ peer, protocol: init.protocol, code: e.code }, e.message)
        await write({ id, ok: false, error: e.toWire() })
      }
    }
    // However the stream goes (reset, or while we answer what came before a clean end), what
    // is still running is cancelled: nobody would read its answer.
    stream.addEventListener('close', () => { for (const r of running.values()) r.cancel.abort() }, { once: true })
    try {
      for (;;) {
        let json: unknown
        try {
          json = await ch.readJson()
        } catch (err) {
          if (endedBetweenFrames(err)) break
          throw err
        }
        const frame = init.parse(json)
        const id = frame.id
        if ('cancel' in frame) { running.get(id)?.cancel.abort(); continue }
        if ('refused' in frame) { void refuse(id, frame.refused); continue }
        if (running.has(id)) { void refuse(id, new InvalidMessageError(`${init.noun} id ${id} is already in flight on this stream`)); continue }
        if (running.size >= init.maxInFlight) { void refuse(id, new OverloadedError(`more than ${init.maxInFlight} ${init.noun}s in flight on one stream`)); continue }
        const cancel = new Cancel()
        this.running++
        const done = answer(id, frame.req, cancel).finally(() => { running.delete(id); this.running-- })
        running.set(id, { done, cancel })
      }
    } catch (err: any) {
      const e = err?.name === 'UnexpectedEOFError' ? new InvalidMessageError('the stream ended before a whole request arrived') : toGdsError(err)
      if (e.name !== 'InvalidMessageError' && e.name !== 'FrameTooLargeError') {
        // The stream broke: its 'close' cancels what is running.
        ch.abort(err instanceof Error ? err : new Error(String(err)))
        return
      }
      await refuse(0, e)
    }
    await Promise.all([...running.values()].map(async r => r.done))
    await ch.close()
  }
}

function ignore (): void {}

/**
 * Whether a read failed because the remote ended the stream where a frame would start (a clean
 * end), not inside one. The length-prefixed reader reports both as UnexpectedEOFError; a clean
 * end is the one that had not got the first byte of a length.
 */
function endedBetweenFrames (err: any): boolean {
  return err?.name === 'UnexpectedEOFError' && / 0\/1 bytes/.test(String(err.message))
}
