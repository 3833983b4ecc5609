import type { Libp2p } from 'libp2p'
import { InvalidParamsError, MethodNotFoundError, ServiceNotFoundError } from './errors.js'
import type { Logger } from './logger.js'
import { DESCRIBE_METHOD, MAX_CALLS_PER_STREAM, MAX_INBOUND_RPC_STREAMS, MAX_RPC_FRAME, RPC_PROTOCOL } from './protocols.js'
import { describeService } from './describe.js'
import { describeIssue, validate } from './framing.js'
import { rpcRequest, type RpcRequest } from './schemas.js'
import { StreamServer, type Answer, type Cancel } from './stream-server.js'
import { methodOf, type CallContext, type MethodDefinition, type ServiceDefinition } from './service.js'

type RpcCall = Exclude<RpcRequest, { cancel: true }>

/**
 * Serves the methods of this node's services on `/gds/rpc/1.0.0`. A caller keeps one stream per
 * provider and sends many calls on it, each tagged with an id; answers go back as they finish,
 * in any order. A streaming method sends items then an end; the caller may cancel it.
 */
export class RpcServer {
  private readonly services = new Map<string, ServiceDefinition>()
  /** Local calls being served (invoke); remote ones are counted by the stream server. */
  private inflight = 0
  private readonly server: StreamServer<RpcCall>

  constructor (private readonly libp2p: Pick<Libp2p, 'handle' | 'unhandle'>, log: Logger) {
    this.server = new StreamServer<RpcCall>({
      protocol: RPC_PROTOCOL,
      maxBytes: MAX_RPC_FRAME,
      maxInFlight: MAX_CALLS_PER_STREAM,
      noun: 'call',
      coalesce: true,
      log,
      // A frame of the wrong shape breaks the framing (answered on id 0), whatever its id.
      parse: json => {
        const f = validate(json, rpcRequest)
        return 'cancel' in f ? { id: f.id, cancel: true } : { id: f.id, req: f }
      },
      handle: async (req, connection, cancel) => this.answer(req, connection.remotePeer.toString(), cancel),
      describe: req => ({ service: req.service, method: req.method })
    })
  }

  /** Calls being served right now (the load reported in heartbeats). */
  get load (): number { return this.inflight + this.server.inFlight }

  async start (services: ServiceDefinition[]): Promise<void> {
    for (const s of services) this.services.set(s.name, s)
    await this.libp2p.handle(RPC_PROTOCOL, (stream, connection) => { void this.server.serve(stream, connection) },
      { maxInboundStreams: MAX_INBOUND_RPC_STREAMS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
  }

  /** A call from this very process (a node calling a service it provides): no network. */
  async invoke (service: string, method: string, params: unknown, caller: string, signal: AbortSignal = new AbortController().signal): Promise<unknown> {
    this.inflight++
    try {
      const { m, out } = await this.run(service, method, params, { caller, signal })
      if (isAsyncIterable(out)) throw new InvalidParamsError(`${service}.${method} streams its results: use stream(), not call()`)
      return checkResult(m, out)
    } finally {
      this.inflight--
    }
  }

  async * invokeStream (service: string, method: string, params: unknown, caller: string, signal: AbortSignal = new AbortController().signal): AsyncGenerator<unknown> {
    const { m, out } = await this.run(service, method, params, { caller, signal })
    if (!isAsyncIterable(out)) {
      yield checkResult(m, out)
      return
    }
    yield * checked(m, out)
  }

  private async run (service: string, method: string, params: unknown, context: CallContext): Promise<{ m: MethodDefinition, out: unknown }> {
    const m = this.method(service, method)
    const input = this.check(m, params, service, method)
    return { m, out: await m.handler(input, context) }
  }

  private async answer (call: RpcCall, caller: string, cancel: Cancel): Promise<Answer> {
    // The signal is made only if the handler reads it (Cancel).
    const context: CallContext = { caller, get signal () { return cancel.signal } }
    const { m, out } = await this.run(call.service, call.method, call.params, context)
    if (isAsyncIterable(out)) return { items: checked(m, out) }
    return { result: checkResult(m, out) }
  }

  private method (service: string, method: string): MethodDefinition {
    const s = this.services.get(service)
    if (s === undefined) throw new ServiceNotFoundError(service, 'this peer does not provide it')
    if (method === DESCRIBE_METHOD) return { idempotent: true, handler: () => describeService(s) }
    const m = s.methods?.[method]
    if (m === undefined || !Object.hasOwn(s.methods ?? {}, method)) throw new MethodNotFoundError(service, method, Object.keys(s.methods ?? {}))
    return methodOf(m)
  }

  private check (m: MethodDefinition, params: unknown, service: string, method: string): unknown {
    if (m.params === undefined) return params
    const parsed = m.params.safeParse(params)
    if (parsed.success) return parsed.data
    const { where, message } = describeIssue(parsed.error)
    throw new InvalidParamsError(`${service}.${method}: ${where === '' ? '' : `${where}: `}${message}`)
  }
}

function checkResult (m: MethodDefinition, value: unknown): unknown {
  return m.result === undefined ? value : m.result.parse(value)
}

/** A streaming method's items, each checked against its result schema. */
async function * checked (m: MethodDefinition, items: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  for await (const item of items) yield checkResult(m, item)
}

function isAsyncIterable (x: unknown): x is AsyncIterable<unknown> {
  return x !== null && typeof x === 'object' && Symbol.asyncIterator in x
}
