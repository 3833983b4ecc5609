import { LengthPrefixedDecoder } from '@libp2p/utils'
import { YamuxStream } from '@libp2p/yamux/stream'

/**
 * Two costs a CPU profile of the registry found on every heartbeat, fixed where libp2p offers
 * no option: both change only how much work a message costs, never what goes on the wire or
 * what a reader gets. Installed once per process, before the first connection (libp2p.ts).
 */
export function tuneWire (): void {
  if (tuned) return
  tuned = true
  batchWindowUpdates()
  cheapShortReads()
}

let tuned = false

/** The fields of a yamux stream the window rule reads (private in its types). */
interface WindowState { state: number, recvWindow: number, recvWindowCapacity: number }

/** yamux's StreamState.Established (not exported by @libp2p/yamux). */
const ESTABLISHED = 3

/**
 * @libp2p/yamux answers every data frame with a window update, so a heartbeat (probe, ack) was
 * four frames, each its own noise message and socket write, at both ends. Like go-yamux, a
 * receiver here gives credit back once half its window is used: a sender's credit equals what
 * the receiver has left, so it can always send while updates wait, and a small message costs
 * one frame. Opening, closing and resuming a paused stream go to yamux as before.
 */
function batchWindowUpdates (): void {
  const proto = YamuxStream.prototype as unknown as WindowState & { sendWindowUpdate: () => void }
  const sendWindowUpdate = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState) {
    if (this.state === ESTABLISHED && this.recvWindowCapacity * 2 >= this.recvWindow) return
    sendWindowUpdate.call(this)
  }
}

/** What a length decoder throws when the bytes so far do not hold a length yet. */
type LengthDecoder = (data: { byteLength: number }) => number
interface DecoderState { lengthDecoder: LengthDecoder }

/** Thrown for an empty buffer: made once, so no stack trace is captured per read. */
const NOTHING_YET = new RangeError('no length prefix yet')
const guarded = new WeakSet<LengthDecoder>()

/**
 * The length-prefixed decoder (noise's framing of every message) asks for the next length
 * after each message it yields and learns that the buffer is empty from a RangeError, a new
 * one with a stack trace each time: 10 % of the registry's CPU with 500 services beating.
 * An empty buffer now fails with one shared error, which the decoder handles the same way.
 */
function cheapShortReads (): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as DecoderState & { decode: (buf: unknown) => Generator<unknown> }
  const decode = proto.decode
  proto.decode = function (this: DecoderState, buf: unknown) {
    if (!guarded.has(this.lengthDecoder)) {
      const inner = this.lengthDecoder
      const outer: LengthDecoder = data => { if (data.byteLength === 0) throw NOTHING_YET; return inner(data) }
      guarded.add(outer)
      this.lengthDecoder = outer
    }
    return decode.call(this, buf)
  }
}
