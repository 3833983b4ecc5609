import { entryKey, type Status } from './catalog.js'
import { eventForChange, type NodeEvent, type TimedEvent } from './events.js'
import type { ProviderRecord, WatchMessage } from './schemas.js'

/** What an observer (status --watch, the web UI) knows of the cluster. Immutable; pure updates. */
export interface WatchView {
  registry?: { peerId: string, addrs: string[] }
  services: ReadonlyMap<string, ProviderRecord>
  /** Recent RTT samples per peer, oldest first (for sparklines). */
  rtt: ReadonlyMap<string, readonly number[]>
  /** Newest first, bounded. */
  events: ReadonlyArray<NodeEvent & { ts: number }>
  updatedAt?: number
}

export const MAX_VIEW_EVENTS = 200
export const MAX_RTT_SAMPLES = 30

export function emptyView (): WatchView {
  return { services: new Map(), rtt: new Map(), events: [] }
}

/** Applies one watch message. A snapshot replaces the table (a reconnect) but keeps the history. */
export function applyWatch (view: WatchView, msg: WatchMessage): WatchView {
  switch (msg.type) {
    case 'snapshot':
      return { ...view, registry: msg.registry, services: new Map(msg.services.map(r => [entryKey(r.name, r.peerId), r])), updatedAt: msg.ts }
    case 'change': {
      const services = new Map(view.services)
      const key = entryKey(msg.record.name, msg.record.peerId)
      const e = changeEvent(msg, msg.previous ?? view.services.get(key)?.status)
      if (msg.removed === true) services.delete(key)
      else services.set(key, { ...view.services.get(key), ...msg.record })
      const events = e === undefined ? view.events : [e, ...view.events].slice(0, MAX_VIEW_EVENTS)
      return { ...view, services, events, updatedAt: msg.ts }
    }
    case 'figures': {
      const byPeer = new Map(msg.peers.map(f => [f.peerId, f]))
      const services = new Map(view.services)
      for (const [key, r] of view.services) {
        const f = byPeer.get(r.peerId)
        if (f !== undefined) services.set(key, { ...r, ...stripUndefined(f) })
      }
      const rtt = new Map(view.rtt)
      for (const f of msg.peers) {
        if (f.rttMs !== undefined) rtt.set(f.peerId, [...(rtt.get(f.peerId) ?? []), f.rttMs].slice(-MAX_RTT_SAMPLES))
      }
      return { ...view, services, rtt, updatedAt: msg.ts }
    }
  }
}

/** The event (if any) a change message means, given the status the entry had before. */
export function changeEvent (msg: Extract<WatchMessage, { type: 'change' }>, previous: Status | undefined = msg.previous): TimedEvent | undefined {
  const e = eventForChange({ record: msg.record, previous, ...(msg.removed === true ? { removed: true as const } : {}) }, 'hub')
  return e === undefined ? undefined : { ...e, ts: msg.ts }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
