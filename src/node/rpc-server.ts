import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { InvalidParamsError, MethodNotFoundError, OverloadedError, ServiceNotFoundError, toGdsError } from './errors.js'
import type { Logger } from './logger.js'
import { MAX_CALLS_PER_STREAM, MAX_INBOUND_RPC_STREAMS, MAX_RPC_FRAME, RPC_PROTOCOL } from './protocols.js'
import { Channel } from './framing.js'
import { rpcRequest } from './schemas.js'
import type { MethodDefinition, ServiceDefinition } from './service.js'

/**
 * Serves the methods of this node's services on `/gds/rpc/1.0.0`. A caller keeps one stream per
 * provider and sends many calls on it, each tagged with an id; answers go back as they finish,
 * in any order. A streaming method sends items then an end; the caller may cancel it.
 */
export class RpcServer {
  private readonly services = new Map<string, ServiceDefinition>()
  private inflight = 0

  constructor (private readonly libp2p: Libp2p<any>, private readonly log: Logger) {}

  /** Calls being served right now (the load reported in heartbeats). */
  get load (): number { return this.inflight }

  async start (services: ServiceDefinition[]): Promise<void> {
    for (const s of services) this.services.set(s.name, s)
    await this.libp2p.handle(RPC_PROTOCOL, (stream, connection) => { void this.serveStream(stream, connection) },
      { maxInboundStreams: MAX_INBOUND_RPC_STREAMS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
  }

  private async serveStream (stream: Stream, connection: Connection): Promise<void> {
    const ch = new Channel(stream, MAX_RPC_FRAME)
    const caller = connection.remotePeer.toString()
    const running = new Map<number, AbortController>()
    // A failed write ends the stream's read loop too, so the answer's own failure is moot here.
    const send = async (frame: unknown): Promise<void> => { await ch.send(frame).catch(() => {}) }
    try {
      for (;;) {
        const req = await ch.read(rpcRequest)
        if ('cancel' in req) {
          running.get(req.id)?.abort()
          continue
        }
        if (running.size >= MAX_CALLS_PER_STREAM) {
          void send({ id: req.id, ok: false, error: new OverloadedError(`more than ${MAX_CALLS_PER_STREAM} calls in flight on one stream`).toWire() })
          continue
        }
        const ac = new AbortController()
        running.set(req.id, ac)
        void this.dispatch(req.service, req.method, req.params, caller, ac.signal, send, req.id)
          .finally(() => { running.delete(req.id) })
      }
    } catch (err: any) {
      if (err?.name === 'InvalidMessageError' || err?.name === 'FrameTooLargeError') {
        this.log.warn({ peer: caller, err: err.message }, 'bad rpc frame; closing the stream')
        await send({ id: 0, ok: false, error: toGdsError(err).toWire() })
      }
      for (const ac of running.values()) ac.abort()
      ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** A call from this very process (a node calling a service it provides): no network. */
  async invoke (service: string, method: string, params: unknown, caller: string, signal: AbortSignal = new AbortController().signal): Promise<unknown> {
    this.inflight++
    try {
      const { m, out } = await this.run(service, method, params, caller, signal)
      if (isAsyncIterable(out)) throw new InvalidParamsError(`${service}.${method} streams its results: use stream(), not call()`)
      return m.result === undefined ? out : m.result.parse(out)
    } finally {
      this.inflight--
    }
  }

  async * invokeStream (service: string, method: string, params: unknown, caller: string, signal: AbortSignal = new AbortController().signal): AsyncGenerator<unknown> {
    const { m, out } = await this.run(service, method, params, caller, signal)
    if (!isAsyncIterable(out)) {
      yield m.result === undefined ? out : m.result.parse(out)
      return
    }
    for await (const item of out) yield m.result === undefined ? item : m.result.parse(item)
  }

  private async run (service: string, method: string, params: unknown, caller: string, signal: AbortSignal): Promise<{ m: MethodDefinition, out: unknown }> {
    const m = this.method(service, method)
    const input = this.check(m, params, service, method)
    return { m, out: await m.handler(input, { caller, signal }) }
  }

  private async dispatch (service: string, method: string, params: unknown, caller: string, signal: AbortSignal,
    send: (frame: unknown) => Promise<void>, id: number): Promise<void> {
    this.inflight++
    try {
      const { m, out } = await this.run(service, method, params, caller, signal)
      if (isAsyncIterable(out)) {
        for await (const item of out) {
          if (signal.aborted) break
          await send({ id, item: m.result === undefined ? item : m.result.parse(item) })
        }
        await send({ id, end: true })
      } else {
        await send({ id, ok: true, result: m.result === undefined ? out : m.result.parse(out) })
      }
    } catch (err) {
      const e = toGdsError(err)
      if (e.code === 'INTERNAL') this.log.error({ err, service, method, peer: caller }, 'method failed')
      await send({ id, ok: false, error: e.toWire() })
    } finally {
      this.inflight--
    }
  }

  private method (service: string, method: string): MethodDefinition {
    const s = this.services.get(service)
    if (s === undefined) throw new ServiceNotFoundError(service, 'this peer does not provide it')
    const m = s.methods?.[method]
    if (m === undefined) throw new MethodNotFoundError(service, method, Object.keys(s.methods ?? {}))
    return m
  }

  private check (m: MethodDefinition, params: unknown, service: string, method: string): unknown {
    if (m.params === undefined) return params
    const parsed = m.params.safeParse(params)
    if (parsed.success) return parsed.data
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
    throw new InvalidParamsError(`${service}.${method}: ${where}${issue?.message ?? 'invalid params'}`)
  }
}

function isAsyncIterable (x: unknown): x is AsyncIterable<unknown> {
  return x !== null && typeof x === 'object' && Symbol.asyncIterator in x
}
