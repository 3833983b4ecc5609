import type { PeerId, Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import type { Libp2p } from 'libp2p'
import { isDialRefused } from './client.js'
import { decodeFrame, encodeFrame } from './framing.js'
import { restartsAfterStall, type FailureReason } from './heartbeat.js'
import type { Logger } from './logger.js'
import { streamOnNewest } from './newest-connection.js'
import { HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_BEATS_PER_INTERVAL, MAX_HEARTBEAT_FRAME } from './protocols.js'
import { heartbeatAck, heartbeatFromProvider } from './schemas.js'
import type { TimerWheel, WheelSlot } from './timer-wheel.js'

/** A failed round trip that knows its reason (anything else thrown counts as `unreachable`). */
export class ProbeFailure extends Error {
  constructor (readonly reason: FailureReason, message: string) { super(message) }
}

/**
 * One long-lived heartbeat stream. Acks are parsed as they arrive, from the stream's message
 * events: a read pending on every stream between two beats (its promises and buffers living a
 * second each) was a third of the registry's old-space garbage with 1,000 services.
 */
interface Link {
  stream: Stream
  /** Let go on purpose (replaced, closed): its end is no sign of trouble. */
  dropped?: boolean
  /** Beats since `windowAt` (the flood bound: MAX_BEATS_PER_INTERVAL an interval). */
  beats: number
  windowAt: number
}

/** A peer that pushes beats (HEARTBEAT_PUSH_PROTOCOL): what to do with each, and how often they come. */
export interface BeatsOptions {
  /** A beat: the peer is alive, at this load. */
  onBeat: (load: number) => void
  intervalMs: number
}

/** More beats in one interval than a live peer sends: the stream is dropped. */
export class BeatFloodError extends Error {
  constructor (limit: number) { super(`more than ${limit} heartbeat beats in one interval`) }
}

/** The probe in flight (one at a time) and the link it went out on. */
interface InFlight {
  id: number
  link: Link
  timeoutMs: number
  /** How often its deadline started again after our own stall (restartsAfterStall). */
  restarts: number
  answer: ReturnType<typeof Promise.withResolvers<number>>
}

/**
 * Probes of one peer over one long-lived heartbeat stream (every node answers them:
 * registry-session.ts), opened on first use and again after it broke. A probe is one small
 * frame each way on a stream already open, where a ping would open a stream each time; its
 * deadline is a slot on a shared timer wheel, not a Node timer of its own. The registry's
 * prober beats through it; so do peers judging each other with the registry away.
 * With `beats`, it asks for HEARTBEAT_PUSH_PROTOCOL first: the peer then pushes a beat every
 * interval (one frame, nothing back but an echo every few); a peer that only speaks 1.0.0 is
 * probed as before.
 */
export class HeartbeatLink {
  private link?: Link
  private opening?: Promise<Link>
  private inFlight?: InFlight
  private nextId = 0
  private closed = false
  private readonly deadline: WheelSlot = {
    fire: (lateMs) => {
      const p = this.inFlight
      if (p !== undefined && restartsAfterStall(lateMs, p.timeoutMs, p.restarts)) {
        p.restarts++
        this.wheel.after(this.deadline, p.timeoutMs)
        return
      }
      this.settle(new ProbeFailure('heartbeat-timeout', `no ack within ${p?.timeoutMs} ms`))
    }
  }

  /** `onBroken`: the stream broke (not dropped on purpose); the peer may be gone. */
  constructor (
    private readonly libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>,
    private readonly peer: PeerId,
    private readonly wheel: TimerWheel,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly onBroken: () => void,
    private readonly beats?: BeatsOptions
  ) {}

  /**
   * One probe, its answer within `timeoutMs` (opening the stream included): the peer's load.
   * A probe asked for while one is in flight shares its answer.
   */
  async roundTrip (timeoutMs: number): Promise<number> {
    if (this.inFlight !== undefined) return this.inFlight.answer.promise
    const started = this.now()
    const link = this.link ?? await this.open(AbortSignal.timeout(timeoutMs))
    if (this.inFlight !== undefined) return (this.inFlight as InFlight).answer.promise
    const p: InFlight = { id: ++this.nextId, link, timeoutMs, restarts: 0, answer: Promise.withResolvers<number>() }
    this.inFlight = p
    this.wheel.after(this.deadline, Math.max(0, timeoutMs - (this.now() - started)))
    try {
      // A probe is a few bytes: it is queued even when the stream asks the sender to wait.
      link.stream.send(lp.encode.single(encodeFrame({ type: 'probe', id: p.id })))
    } catch (err) {
      this.settle(new ProbeFailure('connection-closed', String(err)))
    }
    return p.answer.promise
  }

  /** Lets the stream go (the next probe opens a fresh one): `why` fails what is in flight. */
  drop (why: string): void {
    const old = this.link
    this.link = undefined
    if (old === undefined) return
    old.dropped = true
    if (this.inFlight?.link === old) this.settle(new ProbeFailure('connection-closed', why))
    old.stream.abort(new Error(why))
  }

  close (why: string): void {
    this.closed = true
    this.settle(new ProbeFailure('connection-closed', why))
    this.drop(why)
  }

  /** Ends the probe in flight: answered with the peer's load, or failed. */
  private settle (outcome: number | ProbeFailure): void {
    const p = this.inFlight
    if (p === undefined) return
    this.inFlight = undefined
    this.wheel.cancel(this.deadline)
    if (typeof outcome === 'number') p.answer.resolve(outcome)
    else p.answer.reject(outcome)
  }

  /** The long-lived stream, opened (and its acks followed) on first use or after it broke. */
  private async open (signal: AbortSignal): Promise<Link> {
    if (this.link !== undefined) return this.link
    this.opening ??= (async () => {
      try {
        const protocols = this.beats !== undefined ? [HEARTBEAT_PUSH_PROTOCOL, HEARTBEAT_PROTOCOL] : [HEARTBEAT_PROTOCOL]
        const link = this.follow(await streamOnNewest(this.libp2p, this.peer, protocols, signal))
        this.link = link
        return link
      } catch (err: any) {
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isDialRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private follow (stream: Stream): Link {
    const link: Link = { stream, beats: 0, windowAt: this.now() }
    const pushed = stream.protocol === HEARTBEAT_PUSH_PROTOCOL
    const decoder = new LengthPrefixedDecoder({ maxDataLength: MAX_HEARTBEAT_FRAME, maxBufferSize: 2 * MAX_HEARTBEAT_FRAME })
    stream.addEventListener('message', e => {
      try {
        for (const frame of decoder.decode(e.data)) {
          const msg = decodeFrame(frame.subarray(), pushed ? heartbeatFromProvider : heartbeatAck)
          if (msg.type === 'beat') {
            this.beat(link, msg.load, msg.echo)
            continue
          }
          // A late ack of a probe that already timed out is no answer to the next one.
          if (this.inFlight?.link === link && this.inFlight.id === msg.id) this.settle(msg.load)
        }
      } catch (err: any) {
        // Malformed, oversized or flooding: a peer that breaks the protocol is not answering.
        this.log.debug({ peer: this.peer.toString(), err: err?.message }, 'bad heartbeat frame')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })
    // The peer ended its side: no ack can come any more.
    stream.addEventListener('remoteCloseWrite', () => { stream.abort(new Error('heartbeat stream ended')) }, { once: true })
    stream.addEventListener('close', () => { this.ended(link) }, { once: true })
    return link
  }

  /** A pushed beat: told to the owner, echoed when asked. (A probe in flight waits for its own ack: its round trip is a figure.) */
  private beat (link: Link, load: number, echo: number | undefined): void {
    const beats = this.beats as BeatsOptions
    const now = this.now()
    if (now - link.windowAt >= beats.intervalMs) { link.windowAt = now; link.beats = 0 }
    if (++link.beats > MAX_BEATS_PER_INTERVAL) throw new BeatFloodError(MAX_BEATS_PER_INTERVAL)
    // A stream let go of still delivering: it says nothing about the one in use.
    if (this.link !== link) return
    if (echo !== undefined) link.stream.send(lp.encode.single(encodeFrame({ type: 'echo', id: echo })))
    beats.onBeat(load)
  }

  private ended (link: Link): void {
    if (this.link === link) this.link = undefined
    if (this.closed || link.dropped === true) return
    if (this.inFlight?.link === link) this.settle(new ProbeFailure('connection-closed', 'heartbeat stream closed'))
    this.onBroken()
  }
}
