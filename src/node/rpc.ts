import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { z } from 'zod'
import { FrameTooLargeError, GdsError, InvalidMessageError, PeerUnavailableError, RequestTimeoutError, fromWire, toGdsError, type WireError } from './errors.js'
import { envelope } from './schemas.js'
import { REQUEST_TIMEOUT_MS } from './protocols.js'
import type { Libp2p } from 'libp2p'
import type { Logger } from './logger.js'

/**
 * Messages on gds protocol streams: length-prefixed JSON, size-capped, schema-checked.
 * `request`/`serve` are one request per stream; `Channel` is a long-lived stream of frames.
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Bytes → a value of the schema, or an InvalidMessageError saying what is wrong. */
export function decodeFrame<S extends z.ZodType> (bytes: Uint8Array, schema: S): z.infer<S> {
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidMessageError('message is not valid UTF-8 JSON')
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new InvalidMessageError(`malformed message${where}: ${issue?.message ?? 'does not match the schema'}`)
  }
  return parsed.data
}

/** A stream of frames in both directions (heartbeat, notify, watch, rpc). */
export class Channel {
  private readonly lp: LengthPrefixedStream<Stream>
  /** Frames handed to `send` and not yet written, oldest first. */
  private queued: Uint8Array[] = []
  private flushing: Promise<void> | undefined

  constructor (readonly stream: Stream, private readonly maxBytes: number) {
    this.lp = lpStream(stream, { maxDataLength: maxBytes })
  }

  async read<S extends z.ZodType> (schema: S, signal?: AbortSignal): Promise<z.infer<S>> {
    let frame
    try {
      frame = await this.lp.read(signal === undefined ? undefined : { signal })
    } catch (err: any) {
      if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') throw new FrameTooLargeError(this.maxBytes)
      throw err
    }
    return decodeFrame(frame.subarray(), schema)
  }

  async write (value: unknown, signal?: AbortSignal): Promise<void> {
    await this.lp.write(encodeFrame(value), signal === undefined ? undefined : { signal })
  }

  /**
   * Queues a frame; every frame queued before the event loop turns goes out in one write.
   * Each write costs a yamux frame, a noise frame and a syscall, which at rpc rates is most of
   * the CPU a call takes: answers arriving together (one socket read) make calls and answers
   * that leave together. Order is kept. The promise settles when the frame has been written
   * (after a drain if the stream is full), so a streaming producer still feels backpressure.
   */
  async send (value: unknown): Promise<void> {
    this.queued.push(encodeFrame(value))
    this.flushing ??= this.flush()
    await this.flushing
  }

  private async flush (): Promise<void> {
    try {
      await new Promise(resolve => setImmediate(resolve))
      while (this.queued.length > 0) {
        const batch = this.queued
        this.queued = []
        await this.lp.writeV(batch)
      }
    } catch (err) {
      this.queued = []
      throw err
    } finally {
      this.flushing = undefined
    }
  }

  async close (): Promise<void> {
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
  maxBytes: number
}

/**
 * One request, one answer, on a fresh stream. The answer's error envelope is rebuilt into
 * the matching GdsError class so callers can branch on `name`.
 */
export async function request<S extends z.ZodType> (node: Libp2p<any>, peer: PeerId | Multiaddr, protocol: string, body: unknown, resultSchema: S, opts: RequestOptions): Promise<z.infer<S>> {
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS
  const signal = opts.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
  let stream: Stream
  try {
    stream = await node.dialProtocol(peer, protocol, { signal })
  } catch (err: any) {
    if (signal.aborted) throw new RequestTimeoutError(`no answer on ${protocol} within ${timeoutMs} ms`)
    throw new PeerUnavailableError(`cannot open ${protocol}: ${err?.message ?? err}`, { cause: err })
  }
  const ch = new Channel(stream, opts.maxBytes)
  try {
    await ch.write(body, signal)
    const answer = await ch.read(envelope(resultSchema), signal) as { ok: true, result: z.infer<S> } | { ok: false, error: WireError }
    await ch.close()
    if (!answer.ok) throw fromWire(answer.error)
    return answer.result
  } catch (err: any) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (err instanceof GdsError) throw err
    if (signal.aborted) throw new RequestTimeoutError(`no answer on ${protocol} within ${timeoutMs} ms`)
    throw new PeerUnavailableError(`${protocol} failed: ${err?.message ?? err}`, { cause: err })
  }
}

export interface ServeOptions<S extends z.ZodType> {
  requestSchema: S
  maxBytes: number
  maxInboundStreams: number
  log: Logger
  timeoutMs?: number
}

/**
 * Serves one request per inbound stream. A bad frame (garbage, oversized, wrong shape) is
 * answered with its typed error and logged; nothing else happens. A handler's GdsError goes
 * back as the error envelope; any other error as INTERNAL.
 */
export async function serve<S extends z.ZodType> (node: Libp2p<any>, protocol: string, handler: (req: z.infer<S>, connection: Connection) => Promise<unknown>, opts: ServeOptions<S>): Promise<void> {
  await node.handle(protocol, async (stream, connection) => {
    const signal = AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS)
    const ch = new Channel(stream, opts.maxBytes)
    let answer: unknown
    try {
      const req = await ch.read(opts.requestSchema, signal)
      answer = { ok: true, result: await handler(req, connection) }
    } catch (err: any) {
      const e = err?.name === 'UnexpectedEOFError' ? new InvalidMessageError('the stream ended before a whole request arrived') : toGdsError(err)
      if (e.code === 'INTERNAL') opts.log.error({ err, peer: connection.remotePeer.toString(), protocol }, 'request failed')
      else opts.log.warn({ peer: connection.remotePeer.toString(), protocol, code: e.code }, e.message)
      answer = { ok: false, error: e.toWire() }
    }
    try {
      await ch.write(answer, signal)
      await ch.close()
    } catch (err: any) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }, { maxInboundStreams: opts.maxInboundStreams, runOnLimitedConnection: false })
}
