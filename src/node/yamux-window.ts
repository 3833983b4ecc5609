import { YamuxStream } from '@libp2p/yamux/stream'

/** The fields of a yamux stream the window rule reads (private in its types). */
interface WindowState { state: number, recvWindow: number, recvWindowCapacity: number }

/** yamux's StreamState.Established (not exported by @libp2p/yamux). */
const ESTABLISHED = 3

let installed = false

/**
 * @libp2p/yamux answers every data frame with a window update, so a heartbeat (probe, ack) was
 * four frames, each its own noise message and socket write, at both ends. Like go-yamux, a
 * receiver here gives credit back once half its window is used: a sender's credit equals what
 * the receiver has left, so it can always send while updates wait, and a small message costs
 * one frame. Opening, closing and resuming a paused stream go to yamux as before.
 */
export function batchWindowUpdates (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as WindowState & { sendWindowUpdate: () => void }
  const sendWindowUpdate = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState) {
    if (this.state === ESTABLISHED && this.recvWindowCapacity * 2 >= this.recvWindow) return
    sendWindowUpdate.call(this)
  }
}
