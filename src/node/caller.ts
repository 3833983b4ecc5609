import type { Libp2p } from 'libp2p'
import { Balancer, CALL_DEFAULTS, type CallOptions } from './balancer.js'
import { RpcClient } from './rpc-client.js'
import type { ProviderRecord } from './schemas.js'

/**
 * Calls service methods by name: the balancer picks a provider from `providers`, the rpc
 * client carries the call. The same piece serves a node (its live catalogue) and a CLI client
 * (a registry lookup).
 */
export class Caller {
  private readonly rpc: RpcClient
  private readonly balancer: Balancer

  constructor (libp2p: Libp2p<any>, providers: (service: string) => ProviderRecord[], reportSuspect: (peerId: string) => void) {
    this.rpc = new RpcClient(libp2p)
    this.balancer = new Balancer({
      providers,
      reportSuspect,
      now: Date.now,
      random: Math.random
    })
  }

  async call<T = unknown> (service: string, method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
    return await this.balancer.call(service, opts, async (p, timeoutMs) => this.rpc.call(p, service, method, params, timeoutMs, opts.signal)) as T
  }

  async * stream<T = unknown> (service: string, method: string, params?: unknown, opts: CallOptions = {}): AsyncGenerator<T> {
    const p = this.balancer.pick(service, opts.strategy)
    yield * this.rpc.stream(p, service, method, params, opts.timeoutMs ?? CALL_DEFAULTS.timeoutMs, opts.signal) as AsyncGenerator<T>
  }

  close (): void {
    this.rpc.close()
  }
}
