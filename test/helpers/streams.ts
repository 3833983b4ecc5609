import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'

/**
 * A protocol component's slice of a libp2p node, without sockets (the js-libp2p ping test
 * pattern): `dialProtocol` hands out one end of an in-memory stream pair and gives the other to
 * whatever answers that protocol; `handle` captures handlers, and `open` plays a remote peer
 * opening a stream to one of them.
 */
export class StubLibp2p {
  readonly handlers = new Map<string, StreamHandler>()
  readonly dials: Array<{ peer: string, protocol: string }> = []
  private readonly answerers = new Map<string, (remote: Stream, dial: number) => void | Promise<void>>()
  private readonly listeners = new Map<string, Set<(e: any) => void>>()
  /** A dial fails with this instead (a refused connection, a timeout...). */
  refuse?: Error
  /** The next dial waits for this before it connects (a slow dial). */
  holdNextDial?: Promise<void>

  /** Who answers dials of `protocol`: given the far end of each new stream (and the dial's number, from 1). */
  answer (protocol: string, answerer: (remote: Stream, dial: number) => void | Promise<void>): void {
    this.answerers.set(protocol, answerer)
  }

  async dialProtocol (peer: PeerId | { toString: () => string }, protocol: string | string[]): Promise<Stream> {
    // Negotiated as multistream-select does: the first of ours the far end answers.
    const name = Array.isArray(protocol) ? protocol.find(p => this.answerers.has(p)) ?? protocol[0] : protocol
    const n = this.dials.push({ peer: peer.toString(), protocol: name })
    if (this.refuse !== undefined) throw this.refuse
    const hold = this.holdNextDial
    this.holdNextDial = undefined
    await hold
    const [local, remote] = await streamPair({ protocol: name })
    // libp2p names the negotiated protocol on both ends; streamPair does not.
    local.protocol = name
    remote.protocol = name
    // An answerer's read fails when the stream goes: that is how it ends.
    void (async () => { await this.answerers.get(name)?.(remote, n) })().catch(() => {})
    return local
  }

  /** Who a plain dial reaches (the registry, say); without it dials fail. */
  dialsReach?: PeerId
  /** Instead: a dial reaches the peer its address pins (several registries, all up). */
  dialsReachPinned = false
  /** The addresses plainly dialled, in order. */
  readonly dialled: string[] = []

  async dial (addr: { toString: () => string }): Promise<Connection> {
    this.dialled.push(addr.toString())
    const pinned = this.dialsReachPinned ? addr.toString().split('/p2p/')[1] : undefined
    if (pinned !== undefined) return connectionFrom(peerIdFromString(pinned))
    if (this.refuse !== undefined || this.dialsReach === undefined) throw this.refuse ?? new Error('no dialing in this test')
    return connectionFrom(this.dialsReach)
  }

  /** No connection is kept: streams are dialled. */
  getConnections (): Connection[] { return [] }

  async handle (protocol: string | string[], handler: StreamHandler): Promise<void> {
    for (const p of [protocol].flat()) this.handlers.set(p, handler)
  }

  async unhandle (protocol: string | string[]): Promise<void> {
    for (const p of [protocol].flat()) this.handlers.delete(p)
  }

  /** A remote peer opens a stream to our handler of `protocol`; returns its end. */
  async open (protocol: string, from: PeerId): Promise<Stream> {
    const handler = this.handlers.get(protocol)
    if (handler === undefined) throw new Error(`nothing handles ${protocol}`)
    const [remote, local] = await streamPair({ protocol })
    local.protocol = protocol
    remote.protocol = protocol
    void handler(local, connectionFrom(from))
    return remote
  }

  addEventListener (type: string, listener: (e: any) => void): void {
    const set = this.listeners.get(type) ?? new Set()
    set.add(listener)
    this.listeners.set(type, set)
  }

  removeEventListener (type: string, listener: (e: any) => void): void {
    this.listeners.get(type)?.delete(listener)
  }

  /** libp2p's event `type` about `peer` (peer:disconnect, say) to every listener. */
  emitPeerEvent (type: string, peer: PeerId): void {
    for (const l of this.listeners.get(type) ?? []) l(new CustomEvent(type, { detail: peer }))
  }
}

/** The part of a connection the handlers read: who is on the other end (and a close that does nothing). */
export function connectionFrom (peer: PeerId): Connection {
  return { remotePeer: peer, close: async () => {} } as unknown as Connection
}

export async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}
