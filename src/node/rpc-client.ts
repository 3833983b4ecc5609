import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import { GdsError, PeerUnavailableError, RequestTimeoutError, fromWire } from './errors.js'
import { MAX_RPC_FRAME, RPC_PROTOCOL } from './protocols.js'
import { Channel } from './framing.js'
import { rpcResponse, type RpcResponse } from './schemas.js'

/** Where to reach a provider: its peer id and the addresses it registered. */
export interface Target {
  peerId: string
  addrs: readonly string[]
}

interface Waiter {
  onFrame: (frame: RpcResponse) => void
  onError: (err: GdsError) => void
}

/**
 * The caller's side of /gds/rpc/1.0.0: one long-lived stream per provider, many calls in
 * flight on it, answers matched by id. A broken stream fails every call on it with a
 * retryable PeerUnavailableError, and the next call opens a new one.
 */
export class RpcClient {
  private readonly links = new Map<string, Promise<Link>>()

  constructor (private readonly libp2p: Libp2p<any>) {}

  async call (target: Target, service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const link = await this.link(target, timeoutMs)
    return link.call(service, method, params, timeoutMs, signal)
  }

  async * stream (target: Target, service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): AsyncGenerator<unknown> {
    const link = await this.link(target, timeoutMs)
    yield * link.stream(service, method, params, signal)
  }

  close (): void {
    for (const l of this.links.values()) void l.then(link => { link.close() }, () => {})
    this.links.clear()
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
  private readonly waiters = new Map<number, Waiter>()
  private nextId = 0
  open = true

  constructor (private readonly ch: Channel, private readonly peerId: string) {
    void this.read()
  }

  async call (service: string, method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const id = ++this.nextId
    const answer = Promise.withResolvers<unknown>()
    // It may be rejected (link failed, timeout) while we still await the send: handled below.
    answer.promise.catch(() => {})
    const timer = setTimeout(() => { answer.reject(new RequestTimeoutError(`${service}.${method} on ${this.peerId} gave no answer within ${timeoutMs} ms`)) }, timeoutMs)
    const onAbort = (): void => { answer.reject(new RequestTimeoutError(`${service}.${method} was cancelled`)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.waiters.set(id, {
      onFrame: f => {
        if ('ok' in f) {
          if (f.ok) answer.resolve(f.result)
          else answer.reject(fromWire(f.error))
        }
      },
      onError: err => { answer.reject(err) }
    })
    try {
      await this.send({ id, service, method, params })
      return await answer.promise
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.waiters.delete(id)
    }
  }

  async * stream (service: string, method: string, params: unknown, signal?: AbortSignal): AsyncGenerator<unknown> {
    const id = ++this.nextId
    const queue: RpcResponse[] = []
    let failure: GdsError | undefined
    let wake: (() => void) | undefined
    const notify = (): void => { wake?.(); wake = undefined }
    this.waiters.set(id, { onFrame: f => { queue.push(f); notify() }, onError: err => { failure = err; notify() } })
    const onAbort = (): void => { failure = new RequestTimeoutError(`${service}.${method} was cancelled`); notify() }
    signal?.addEventListener('abort', onAbort, { once: true })
    let ended = false
    try {
      await this.send({ id, service, method, params })
      for (;;) {
        const f = queue.shift()
        if (f === undefined) {
          if (failure !== undefined) throw failure
          await new Promise<void>(resolve => { wake = resolve })
          continue
        }
        if ('item' in f) yield f.item
        else if ('end' in f) { ended = true; return }
        else if ('ok' in f) {
          ended = true
          if (!f.ok) throw fromWire(f.error)
          return
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.waiters.delete(id)
      // The consumer stopped early: tell the provider to stop producing.
      if (!ended && this.open) void this.send({ id, cancel: true }).catch(() => {})
    }
  }

  close (): void {
    this.fail(new PeerUnavailableError(`rpc link to ${this.peerId} closed`))
    this.ch.abort(new Error('rpc link closed'))
  }

  private async send (frame: unknown): Promise<void> {
    try {
      await this.ch.send(frame)
    } catch (err: any) {
      this.fail(new PeerUnavailableError(`rpc stream to ${this.peerId} failed: ${err?.message ?? err}`, { cause: err }))
      throw new PeerUnavailableError(`rpc stream to ${this.peerId} failed: ${err?.message ?? err}`, { cause: err })
    }
  }

  private async read (): Promise<void> {
    try {
      for (;;) {
        const frame = await this.ch.read(rpcResponse)
        this.waiters.get(frame.id)?.onFrame(frame)
      }
    } catch (err: any) {
      this.fail(new PeerUnavailableError(`rpc stream to ${this.peerId} closed: ${err?.message ?? err}`, { cause: err }))
    }
  }

  private fail (err: GdsError): void {
    this.open = false
    for (const w of this.waiters.values()) w.onError(err)
    this.waiters.clear()
  }
}
