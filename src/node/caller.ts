import type { Libp2p } from 'libp2p'
import { Balancer, CALL_DEFAULTS, type CallOptions } from './balancer.js'
import type { Catalog } from './catalog.js'
import { RpcClient } from './rpc-client.js'
import type { RpcServer } from './rpc-server.js'
import type { ProviderRecord } from './schemas.js'

/** Where a caller learns the providers of a service. */
export interface ProviderSource {
  /** Brings the providers of `service` up to date if they may be stale (a registry lookup). */
  refresh: (service: string) => Promise<void>
  providers: (service: string) => ProviderRecord[]
}

/** Runs a method of a service this very process provides, without the network. */
export interface LocalInvoker {
  peerId: string
  call: (service: string, method: string, params: unknown) => Promise<unknown>
  stream: (service: string, method: string, params: unknown, signal?: AbortSignal) => AsyncIterable<unknown>
}

/** How long a registry lookup answers calls to a service this node does not follow. */
export const LOOKUP_CACHE_MS = 1_000

/**
 * Providers of services a node does not require (so its catalogue does not follow them),
 * from the registry's `lookup`, cached briefly so a burst of calls asks once.
 */
export class LookupCache implements ProviderSource {
  private readonly known = new Map<string, { at: number, providers: ProviderRecord[] }>()

  constructor (private readonly lookup: (service: string) => Promise<ProviderRecord[]>, private readonly now: () => number) {}

  async refresh (service: string): Promise<void> {
    const cached = this.known.get(service)
    if (cached !== undefined && this.now() - cached.at < LOOKUP_CACHE_MS) return
    try {
      this.known.set(service, { at: this.now(), providers: await this.lookup(service) })
    } catch (err) {
      // The registry is away: serve with what we knew, as the catalogue does.
      if (cached === undefined) throw err
    }
  }

  providers (service: string): ProviderRecord[] {
    return this.known.get(service)?.providers ?? []
  }
}

/** Providers from the catalogue for the names it keeps current, else from registry lookups. */
export function catalogSource (catalog: Catalog, keeps: (service: string) => boolean, lookups: LookupCache): ProviderSource {
  return {
    refresh: async s => { if (!keeps(s)) await lookups.refresh(s) },
    providers: s => keeps(s) ? catalog.providersOf(s) : lookups.providers(s)
  }
}

/** This process's own services as a provider: calls to ourselves skip the network. */
export function localInvoker (server: Pick<RpcServer, 'invoke' | 'invokeStream'>, peerId: string): LocalInvoker {
  return {
    peerId,
    call: async (service, method, params) => server.invoke(service, method, params, peerId),
    stream: (service, method, params, signal) => server.invokeStream(service, method, params, peerId, signal)
  }
}

export interface CallerOptions {
  libp2p: Libp2p<any>
  source: ProviderSource
  /** A provider failed a call: tell whoever judges liveness (the hub, or the registry). */
  reportSuspect: (peerId: string) => void
  local?: LocalInvoker
  now: () => number
  random: () => number
}

/**
 * Calls service methods by name: the balancer picks a provider, the rpc client carries the
 * call (or the local invoker, when the provider is this process). The same piece serves a
 * node and a CLI client; only the ProviderSource differs.
 */
export class Caller {
  private readonly rpc: RpcClient
  private readonly balancer: Balancer
  private readonly source: ProviderSource
  private readonly local?: LocalInvoker

  constructor ({ libp2p, source, reportSuspect, local, now, random }: CallerOptions) {
    this.rpc = new RpcClient(libp2p)
    this.source = source
    this.local = local
    this.balancer = new Balancer({ providers: s => source.providers(s), reportSuspect, now, random })
  }

  async call<T = unknown> (service: string, method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
    await this.source.refresh(service)
    return await this.balancer.call(service, opts, async (p, timeoutMs) => {
      if (p.peerId === this.local?.peerId) return this.local.call(service, method, params)
      return this.rpc.call(p, service, method, params, timeoutMs, opts.signal)
    }) as T
  }

  async * stream<T = unknown> (service: string, method: string, params?: unknown, opts: CallOptions = {}): AsyncGenerator<T> {
    await this.source.refresh(service)
    const p = this.balancer.pick(service, opts.strategy)
    if (p.peerId === this.local?.peerId) {
      yield * this.local.stream(service, method, params, opts.signal) as AsyncIterable<T>
      return
    }
    yield * this.rpc.stream(p, service, method, params, opts.timeoutMs ?? CALL_DEFAULTS.timeoutMs, opts.signal) as AsyncGenerator<T>
  }

  close (): void {
    this.rpc.close()
  }
}
