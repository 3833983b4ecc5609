import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import { InvalidParamsError, PeerUnavailableError, RequestTimeoutError, fromWire } from './errors.js'
import { MAX_RPC_FRAME, RPC_PROTOCOL } from './protocols.js'
import { Channel } from './framing.js'
import { Requests } from './requests.js'
import { rpcResponse, type RpcResponse } from './schemas.js'


/** Where to reach a provider: its peer id and the addresses it registered. */
export interface Target {
  peerId: string
  addrs: readonly string[]
}

/**
 * The caller's side of /gds/rpc/1.0.0: one long-lived stream per provider, many calls in
 * flight on it, answers matched by id. A broken stream fails every call on it with a
 * retryable PeerUnavailableError, and the next call opens a new one.
 */
export class RpcClient {
  private readonly links = new Map<string, Promise<Link>>()
  /** The links that have opened, by peer (each also in `links`). */
  private readonly ready = new Map<string, Link>()

  constructor (private readonly libp2p: Pick<Libp2p, 'dialProtocol' | 'peerStore'>) {}

  async call (target: Target, service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    // An open link is used at once: awaiting its (settled) promise on every call was a promise
    // and a turn of the microtask queue each, garbage that made GC pauses more frequent.
    const link = this.ready.get(target.peerId) ?? await this.link(target, timeoutMs)
    if (!link.open) {
      this.ready.delete(target.peerId)
      return this.call(target, service, method, params, timeoutMs, signal)
    }
    return link.call(service, method, params, timeoutMs, signal)
  }

  async * stream (target: Target, service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): AsyncGenerator<unknown> {
    const link = await this.link(target, timeoutMs)
    yield * link.stream(service, method, params, signal)
  }

  close (): void {
    for (const l of this.links.values()) void l.then(link => { link.close() }, () => {})
    this.links.clear()
    this.ready.clear()
  }

  private async link (target: Target, timeoutMs: number): Promise<Link> {
    let p = this.links.get(target.peerId)
    if (p === undefined) {
      p = this.open(target, timeoutMs)
      this.links.set(target.peerId, p)
      p.catch(() => { if (this.links.get(target.peerId) === p) this.links.delete(target.peerId) })
    }
    const link = await p
    if (!link.open) {
      if (this.links.get(target.peerId) === p) this.links.delete(target.peerId)
      return this.link(target, timeoutMs)
    }
    if (this.links.get(target.peerId) === p) this.ready.set(target.peerId, link)
    return link
  }

  private async open (target: Target, timeoutMs: number): Promise<Link> {
    const peer = peerIdFromString(target.peerId)
    try {
      if (target.addrs.length > 0) await this.libp2p.peerStore.merge(peer, { multiaddrs: target.addrs.map(a => multiaddr(a)) })
      const stream = await this.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
      return new Link(new Channel(stream, MAX_RPC_FRAME), target.peerId)
    } catch (err: any) {
      throw new PeerUnavailableError(`cannot reach ${target.peerId}: ${err?.message ?? err}`, { cause: err })
    }
  }
}

class Link {
  private readonly requests = new Requests<RpcResponse>()

  constructor (private readonly ch: Channel, private readonly peerId: string) {
    void this.read()
  }

  get open (): boolean { return this.requests.failure === undefined }

  async call (service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    let sent = 0
    const f = await this.requests.request(async id => { sent = id; await this.send({ id, service, method, params }) }, {
      timeoutMs,
      timedOut: () => new RequestTimeoutError(`${service}.${method} on ${this.peerId} gave no answer within ${timeoutMs} ms`),
      signal,
      cancelled: () => new RequestTimeoutError(`${service}.${method} was cancelled`)
    })
    if ('ok' in f) {
      if (!f.ok) throw fromWire(f.error)
      return f.result
    }
    // An item or an end: the method streams (as a local call says at once, not at the deadline).
    void this.send({ id: sent, cancel: true }).catch(() => {})
    throw new InvalidParamsError(`${service}.${method} streams its results: use stream(), not call()`)
  }

  async * stream (service: string, method: string, params: unknown, signal?: AbortSignal): AsyncGenerator<unknown> {
    const frames = this.requests.stream(async id => { await this.send({ id, service, method, params }) }, {
      signal,
      cancelled: () => new RequestTimeoutError(`${service}.${method} was cancelled`),
      isLast: f => !('item' in f),
      // The consumer stopped early: tell the provider to stop producing.
      cancel: id => { void this.send({ id, cancel: true }).catch(() => {}) }
    })
    for await (const f of frames) {
      if ('item' in f) yield f.item
      else if ('ok' in f && !f.ok) throw fromWire(f.error)
    }
  }

  close (): void {
    this.requests.fail(new PeerUnavailableError(`rpc link to ${this.peerId} closed`))
    this.ch.abort(new Error('rpc link closed'))
  }

  /** Not an async function: one promise a call, not the two and a frame of an await. */
  private send (frame: unknown): Promise<void> {
    return this.ch.send(frame).catch(this.sendFailed)
  }

  private readonly sendFailed = (err: any): never => {
    const e = new PeerUnavailableError(`rpc stream to ${this.peerId} failed: ${err?.message ?? err}`, { cause: err })
    this.requests.fail(e)
    throw e
  }

  private async read (): Promise<void> {
    try {
      for (;;) {
        const frame = await this.ch.read(rpcResponse)
        this.requests.deliver(frame.id, frame)
      }
    } catch (err: any) {
      this.requests.fail(new PeerUnavailableError(`rpc stream to ${this.peerId} closed: ${err?.message ?? err}`, { cause: err }))
      // Nothing more can be read on it (the provider closed it, or broke the framing): let both sides go.
      this.ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
