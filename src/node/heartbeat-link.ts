import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { z } from 'zod'
import { isDialRefused } from './client.js'
import { Channel } from './framing.js'
import type { FailureReason } from './heartbeat.js'
import { streamOnNewest } from './newest-connection.js'
import { HEARTBEAT_PROTOCOL, MAX_HEARTBEAT_FRAME } from './protocols.js'
import { Requests } from './requests.js'
import { heartbeatAck } from './schemas.js'

/** A failed round trip that knows its reason (anything else thrown counts as `unreachable`). */
export class ProbeFailure extends Error {
  constructor (readonly reason: FailureReason, message: string) { super(message) }
}

/** One heartbeat stream and the probes in flight on it. */
interface Link {
  ch: Channel
  probes: Requests<z.infer<typeof heartbeatAck>>
  /** Let go on purpose (replaced, closed): its end is no sign of trouble. */
  dropped?: boolean
}

/**
 * Probes of one peer over one long-lived heartbeat stream (every node answers them:
 * registry-session.ts), opened on first use and again after it broke. A probe is one small
 * frame each way on a stream already open, where a ping would open a stream each time. The
 * registry's prober beats through it; so do peers judging each other with the registry away.
 */
export class HeartbeatLink {
  private link?: Link
  private opening?: Promise<Link>
  private closed = false

  /** `onBroken`: the stream broke (not dropped on purpose); the peer may be gone. */
  constructor (private readonly libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>, private readonly peer: PeerId, private readonly now: () => number, private readonly onBroken: () => void) {}

  /** One probe, its answer within `timeoutMs` (opening the stream included): the peer's load. */
  async roundTrip (timeoutMs: number): Promise<number> {
    const deadline = this.now() + timeoutMs
    const { ch, probes } = this.link ?? await this.open(AbortSignal.timeout(timeoutMs))
    const ack = await probes.request(async id => {
      await ch.write({ type: 'probe', id }).catch((err: unknown) => { throw new ProbeFailure('connection-closed', String(err)) })
    }, {
      timeoutMs: Math.max(0, deadline - this.now()),
      timedOut: () => new ProbeFailure('heartbeat-timeout', `no ack within ${timeoutMs} ms`)
    })
    return ack.load
  }

  /** Lets the stream go (the next probe opens a fresh one): `why` fails what is in flight. */
  drop (why: string): void {
    const old = this.link
    this.link = undefined
    if (old === undefined) return
    old.dropped = true
    old.probes.fail(new ProbeFailure('connection-closed', why))
    old.ch.abort(new Error(why))
  }

  close (why: string): void {
    this.closed = true
    this.drop(why)
  }

  private async open (signal: AbortSignal): Promise<Link> {
    if (this.link !== undefined) return this.link
    this.opening ??= (async () => {
      try {
        const stream = await streamOnNewest(this.libp2p, this.peer, HEARTBEAT_PROTOCOL, signal)
        const link: Link = { ch: new Channel(stream, MAX_HEARTBEAT_FRAME), probes: new Requests({ unrefTimers: true }) }
        this.link = link
        void this.readAcks(link)
        return link
      } catch (err: any) {
        throw new ProbeFailure(signal.aborted ? 'heartbeat-timeout' : isDialRefused(err) ? 'refused' : 'unreachable', err?.message ?? String(err))
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private async readAcks (link: Link): Promise<void> {
    try {
      for (;;) {
        const ack = await link.ch.read(heartbeatAck)
        link.probes.deliver(ack.id, ack)
      }
    } catch (err: any) {
      if (this.link === link) this.link = undefined
      link.ch.abort(err instanceof Error ? err : new Error(String(err)))
      if (this.closed || link.dropped === true) return
      link.probes.fail(new ProbeFailure('connection-closed', 'heartbeat stream closed'))
      this.onBroken()
    }
  }
}
