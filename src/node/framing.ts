import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'
import { FrameTooLargeError, InvalidMessageError } from './errors.js'

/**
 * Framing of gds protocol streams: length-prefixed JSON, size-capped, schema-checked.
 * `Channel` is a long-lived stream of frames; requests.ts matches answers to requests over one,
 * stream-server.ts serves them.
 */

/** Unread bytes a Channel lets arrive before it pauses the sender (see the constructor). */
export const READ_AHEAD_BYTES = 1024 * 1024

function varintLength (n: number): number {
  let bytes = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); bytes++ }
  return bytes
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Bytes → a value of the schema, or an InvalidMessageError saying what is wrong. */
export function decodeFrame<S extends z.ZodType> (bytes: Uint8Array, schema: S): z.infer<S> {
  return validate(parseJson(bytes), schema)
}

export function parseJson (bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidMessageError('message is not valid UTF-8 JSON')
  }
}

/** A parsed JSON value → a value of the schema, or an InvalidMessageError naming where it is wrong. */
export function validate<S extends z.ZodType> (json: unknown, schema: S): z.infer<S> {
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const { where, message } = describeIssue(parsed.error)
    throw new InvalidMessageError(`malformed message${where === '' ? '' : ` at ${where}`}: ${message}`)
  }
  return parsed.data
}

/** How much of a peer's own input an error quotes back (a key, a path). */
const MAX_QUOTED = 120

/**
 * The first issue of a failed parse, for an error a peer is sent. zod quotes the input (an
 * unrecognised key, a path through keys), which a peer chooses: uncut, a 6 KB key made a refusal
 * that outgrew the wire error's 4,096 characters, and the other side could not read the answer.
 */
export function describeIssue (error: z.ZodError): { where: string, message: string } {
  const issue = error.issues[0]
  return { where: clip(issue?.path.map(String).join('.') ?? ''), message: clip(issue?.message ?? 'does not match the schema') }
}

function clip (text: string): string {
  return text.length <= MAX_QUOTED ? text : `${text.slice(0, MAX_QUOTED)}…`
}

/** A stream of frames in both directions (heartbeat, notify, watch, rpc). */
export class Channel {
  private readonly lp: LengthPrefixedStream<Stream>
  /** Frames handed to `send` and not yet written, oldest first. */
  private queued: Uint8Array[] = []
  private flushing: Promise<void> | undefined

  /** Bytes that arrived and were not read yet (flow control, below). */
  private buffered = 0
  private reading = false

  constructor (readonly stream: Stream, private readonly maxBytes: number) {
    // Room for one whole frame on top of what flow control lets wait.
    this.lp = lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 2 * READ_AHEAD_BYTES })
    // libp2p's byte reader takes every message as it arrives and aborts the stream when more
    // than its buffer waits unread: a big answer (pages of a list, a snapshot) sent faster than
    // it is parsed broke the stream. Pausing stops yamux's window updates, so the sender waits.
    stream.addEventListener('message', e => {
      this.buffered += e.data.byteLength
      if (!this.reading && this.buffered > READ_AHEAD_BYTES && stream.readStatus === 'readable') stream.pause()
    })
  }

  async read<S extends z.ZodType> (schema: S, signal?: AbortSignal): Promise<z.infer<S>> {
    return validate(await this.readJson(signal), schema)
  }

  /** The next frame as parsed JSON, for a caller that validates it in steps. */
  async readJson (signal?: AbortSignal): Promise<unknown> {
    let frame
    this.reading = true
    try {
      if (this.stream.readStatus === 'paused') this.stream.resume()
      frame = await this.lp.read(signal === undefined ? undefined : { signal })
    } catch (err: any) {
      if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') throw new FrameTooLargeError(this.maxBytes)
      throw err
    } finally {
      this.reading = false
    }
    this.buffered = Math.max(0, this.buffered - frame.byteLength - varintLength(frame.byteLength))
    return parseJson(frame.subarray())
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
  send (value: unknown): Promise<void> {
    this.queued.push(encodeFrame(value))
    // The batch's own promise, shared by its frames: no promise of its own per frame.
    this.flushing ??= this.flush()
    return this.flushing
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

  /** Writes several frames at once (one syscall), in order. */
  async writeAll (values: unknown[], signal?: AbortSignal): Promise<void> {
    await this.lp.writeV(values.map(encodeFrame), signal === undefined ? undefined : { signal })
  }

  /** Closes our side once the frames handed to `send` are written. */
  async close (): Promise<void> {
    await this.flushing?.catch(() => {})
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}
