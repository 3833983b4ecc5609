import type { Change } from './catalog.js'

/**
 * The `gds node start --json` contract: one JSON object per line on stdout, each with `event`
 * and `ts` (epoch ms). Mapped explicitly from internal changes, so the internals can evolve
 * without changing what scripts read.
 */
export type NodeEvent =
  | { event: 'listening', peerId: string, addrs: string[], role: string, name: string, dataDir: string }
  | { event: 'registered', names: string[], registry: string, providers: Array<{ name: string, peerId: string, status: string }>, missing: string[], meshSeed: string[] }
  | { event: 'registry-learnt', registry: string, hint: string }
  | { event: 'registry-lost', registry: string, reason: string }
  /** Back on its home registry (the one its peer id picks) after a failover, from `from`. */
  | { event: 'registry-home', registry: string, from: string }
  | { event: 'registry-retry', attempt: number, delayMs: number, error: string }
  | { event: 'registration-refused', error: string }
  | { event: 'catalog-loaded', entries: number, path: string }
  /** registry --store etcd: etcd stopped or started answering; `pending` changes wait to be written. */
  | { event: 'store-state', store: string, state: 'ok' | 'unreachable', pending: number, error?: string }
  | { event: ProviderEventName, name: string, peerId: string, via: Via, reason: string, addrs: string[] }
  | { event: 'provider-removed', name: string, peerId: string, via: Via }
  | { event: 'degraded', missing: string[] }
  | { event: 'ready' }
  | { event: 'serving', service: string, url: string, login?: string }
  | { event: 'stopping', reason: string }
  | { event: 'stopped' }

export type ProviderEventName = 'provider-up' | 'provider-suspect' | 'provider-down'
/**
 * How the news arrived: the registry's own table, a hub patch, a register answer, gossip, or
 * `peers`: this node's own verdict, confirmed by other members, while no registry is in reach.
 */
export type Via = 'local' | 'hub' | 'register' | 'gossip' | 'peers'

export type TimedEvent = NodeEvent & { ts: number }

/** The events a set of catalogue changes means to a user, in order. */
export function eventsForChanges (changes: readonly Change[], via: Via): NodeEvent[] {
  return changes.flatMap(c => eventForChange(c, via) ?? [])
}

/** The event (if any) a catalogue change means to a user. */
export function eventForChange (change: Change, via: Via): NodeEvent | undefined {
  const { record, previous } = change
  if (change.removed === true) return { event: 'provider-removed', name: record.name, peerId: record.peerId, via }
  const base = { name: record.name, peerId: record.peerId, via, addrs: record.addrs }
  switch (record.status) {
    case 'up':
      return previous === 'up' ? undefined : { event: 'provider-up', ...base, reason: record.reason ?? 'registered' }
    case 'suspect':
      return previous === 'suspect' ? undefined : { event: 'provider-suspect', ...base, reason: record.reason ?? 'heartbeat-timeout' }
    case 'down':
    case 'leaving':
      // Something we never saw up going down is not news.
      if (previous === undefined || previous === 'down' || previous === 'leaving') return undefined
      return { event: 'provider-down', ...base, reason: record.status === 'leaving' ? 'left' : (record.reason ?? 'heartbeat-timeout') }
  }
}
