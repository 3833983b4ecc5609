import { GdsError, InvalidStrategyError, RequestTimeoutError, ServiceNotFoundError, toGdsError } from './errors.js'
import type { ProviderRecord } from './schemas.js'

/**
 * Provider choice and failover (DESIGN.md §5). The strategies are pure: they get candidates
 * and a random number and return one; the Balancer adds what the caller has observed (its own
 * latencies, calls in flight, providers that just failed) and retries on the next provider.
 */

export const STRATEGIES = ['round-robin', 'random', 'least-latency', 'least-loaded'] as const
export type StrategyName = typeof STRATEGIES[number]

export interface Candidate {
  peerId: string
  /** Smoothed latency of our calls to it, else the registry's heartbeat RTT; undefined if unknown. */
  latencyMs?: number
  /** Calls in flight: ours to it, plus what its heartbeats last reported. */
  load: number
}

export interface Strategy {
  select: (candidates: readonly Candidate[], random: number) => Candidate
}

export function createStrategy (name: string): Strategy {
  switch (name) {
    case 'round-robin': {
      let next = 0
      return { select: c => c[next++ % c.length] }
    }
    case 'random':
      return { select: (c, r) => c[Math.min(c.length - 1, Math.floor(r * c.length))] }
    case 'least-latency':
      // Unknown latency counts as zero, so a new provider gets tried and measured.
      return { select: (c, r) => pickMin(c, x => x.latencyMs ?? 0, r) }
    case 'least-loaded':
      return { select: (c, r) => pickMin(c, x => x.load, r) }
    default:
      throw new InvalidStrategyError(name, STRATEGIES)
  }
}

/** The minimum by `key`; ties broken at random so equal providers share the work. */
function pickMin (c: readonly Candidate[], key: (x: Candidate) => number, random: number): Candidate {
  const best = Math.min(...c.map(key))
  const tied = c.filter(x => key(x) === best)
  return tied[Math.min(tied.length - 1, Math.floor(random * tied.length))]
}

export interface CallOptions {
  /** @default 'round-robin' */
  strategy?: StrategyName
  /** Whole deadline for the call, all attempts included. @default 5000 */
  timeoutMs?: number
  /** Providers tried at most. @default 3 */
  attempts?: number
  /** Retry after a timeout too (the first attempt may have run). @default false */
  idempotent?: boolean
  signal?: AbortSignal
}

export const CALL_DEFAULTS = { strategy: 'round-robin', timeoutMs: 5_000, attempts: 3, idempotent: false } as const

/** How long a provider that failed a call is skipped locally (unless it is the only one). */
export const PENALTY_MS = 2_000
/** The tier of a provider no call can go to. */
const UNUSABLE = 3
/** Weight of the newest sample in the latency average. */
const EWMA = 0.3

/** Whether another provider may succeed where this attempt failed. */
export function shouldRetry (err: GdsError, idempotent: boolean): boolean {
  if (!err.retryable) return false
  if (err.name === 'RequestTimeoutError') return idempotent
  return true
}

export interface BalancerDeps {
  /** Current entries of a service (any status). */
  providers: (service: string) => ProviderRecord[]
  /** Tell the registry (fire and forget) that a provider failed. */
  reportSuspect: (peerId: string) => void
  now: () => number
  random: () => number
}

export class Balancer {
  /** By service, then strategy name: each service keeps its own round-robin turn. */
  private readonly strategies = new Map<string, Map<string, Strategy>>()
  private readonly latency = new Map<string, number>()
  private readonly inflight = new Map<string, number>()
  private readonly penalised = new Map<string, number>()

  constructor (private readonly deps: BalancerDeps) {}

  /** Runs `invoke` on a chosen provider, then on the next ones while the failure is retryable. */
  async call (service: string, opts: CallOptions, invoke: (provider: ProviderRecord, timeoutMs: number) => Promise<unknown>): Promise<unknown> {
    const strategyName = opts.strategy ?? CALL_DEFAULTS.strategy
    const strategy = this.strategy(service, strategyName)
    const deadline = this.deps.now() + (opts.timeoutMs ?? CALL_DEFAULTS.timeoutMs)
    const attempts = opts.attempts ?? CALL_DEFAULTS.attempts
    // An array, not a Set: a few entries at most, and one is made per call.
    const tried: string[] = []
    let last: GdsError | undefined
    for (let i = 0; i < attempts; i++) {
      const remaining = deadline - this.deps.now()
      if (remaining <= 0 || opts.signal?.aborted === true) break
      const provider = this.choose(service, strategy, tried)
      if (provider === undefined) break
      tried.push(provider.peerId)
      const started = this.deps.now()
      this.bump(this.inflight, provider.peerId, 1)
      try {
        const result = await invoke(provider, remaining)
        this.observe(provider.peerId, this.deps.now() - started)
        return result
      } catch (err) {
        last = toGdsError(err)
        if (!last.retryable) throw last
        this.penalised.set(provider.peerId, this.deps.now() + PENALTY_MS)
        if (last.name === 'PeerUnavailableError' || last.name === 'RequestTimeoutError') this.deps.reportSuspect(provider.peerId)
        if (!shouldRetry(last, opts.idempotent ?? CALL_DEFAULTS.idempotent)) throw last
      } finally {
        this.bump(this.inflight, provider.peerId, -1)
      }
    }
    if (last !== undefined) throw last
    throw tried.length === 0 ? this.unavailable(service) : new ServiceNotFoundError(service, 'every provider failed')
  }

  /** The provider a call would go to now (for streams, which are not retried mid-way). */
  pick (service: string, strategyName: StrategyName = CALL_DEFAULTS.strategy): ProviderRecord {
    const p = this.choose(service, this.strategy(service, strategyName), [])
    if (p === undefined) throw this.unavailable(service)
    return p
  }

  /** Why no provider can take a call: nobody registered the name, or its providers are all down. */
  private unavailable (service: string): ServiceNotFoundError {
    const all = this.deps.providers(service)
    const n = all.length
    return new ServiceNotFoundError(service, n === 0
      ? `no service named ${service} is registered`
      : all.every(p => p.transport === 'http')
        ? `${service} is provided only through the Go registry's HTTP API, which gds calls cannot reach`
        : `${service} has ${n} provider${n === 1 ? '' : 's'}, none up`)
  }

  /**
   * Up before suspect; a provider that just failed us only if nothing else is left. One pass
   * and one array: this runs on every call, and its garbage (a filtered copy per tier) made GC
   * pauses, the tail of call latency, more frequent.
   */
  private choose (service: string, strategy: Strategy, tried: readonly string[]): ProviderRecord | undefined {
    const now = this.deps.now()
    let pool: ProviderRecord[] = []
    let best = UNUSABLE
    for (const p of this.deps.providers(service)) {
      // An entry of the Go registry's HTTP API has no libp2p peer to call.
      if (p.transport === 'http' || tried.includes(p.peerId)) continue
      const tier = this.tier(p, now)
      if (tier < best) { best = tier; pool = [p] } else if (tier === best && tier !== UNUSABLE) pool.push(p)
    }
    if (pool.length <= 1) return pool[0]
    const candidates: Candidate[] = pool.map(p => ({
      peerId: p.peerId,
      latencyMs: this.latency.get(p.peerId) ?? p.rttMs,
      load: (this.inflight.get(p.peerId) ?? 0) + (p.load ?? 0)
    }))
    return pool[candidates.indexOf(strategy.select(candidates, this.deps.random()))]
  }

  /** 0: up; 1: suspect; 2: either, but it failed us within PENALTY_MS; UNUSABLE: down or leaving. */
  private tier (p: ProviderRecord, now: number): number {
    if (p.status !== 'up' && p.status !== 'suspect') return UNUSABLE
    if ((this.penalised.get(p.peerId) ?? 0) > now) return 2
    return p.status === 'up' ? 0 : 1
  }

  private strategy (service: string, name: string): Strategy {
    let byName = this.strategies.get(service)
    if (byName === undefined) {
      byName = new Map()
      this.strategies.set(service, byName)
    }
    let s = byName.get(name)
    if (s === undefined) {
      s = createStrategy(name)
      byName.set(name, s)
    }
    return s
  }

  private observe (peerId: string, ms: number): void {
    const prev = this.latency.get(peerId)
    this.latency.set(peerId, prev === undefined ? ms : prev + EWMA * (ms - prev))
    this.penalised.delete(peerId)
  }

  private bump (m: Map<string, number>, k: string, by: number): void {
    const v = (m.get(k) ?? 0) + by
    if (v <= 0) m.delete(k)
    else m.set(k, v)
  }
}
