import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/**
 * js-yamux answers every data frame it reads with a window update as soon as any of the window
 * was used, so a small message costs two frames (data, update), each a noise frame and a socket
 * write: at rpc rates a fifth of the caller's writes, and half the frames of a heartbeat. Like
 * hashicorp/yamux (Go), a stream here sends its update once at least half of its window was
 * used: the sender still has half a window, so it never stalls on this, and the stream-opening
 * (SYN/ACK) and resume-after-pause updates go out as before.
 */
interface WindowFields { state: StreamState, recvWindow: number, recvWindowCapacity: number, sendWindowUpdate: () => void }

let installed = false

export function batchWindowUpdates (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as WindowFields
  const send = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowFields): void {
    const established = this.state === StreamState.Established
    if (established && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    send.call(this)
  }
}
