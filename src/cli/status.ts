import { HEALTH_WORDS, nameHealth, providerHealth, type Health, type ProviderHealth } from '../node/health.js'
import type { ListedRecord, ListResult } from '../node/schemas.js'
import { peerViewText, shortId, statusTable } from './format.js'

/** The script contract of `gds status --json` (DESIGN.md §10), mapped explicitly from the catalogue. */
export interface StatusJson {
  registry: { peerId: string, addrs: string[] }
  /** Present with --peer: whose view this is. */
  source?: NonNullable<ListResult['source']>
  /** A registry on a shared store (--store etcd://): whether it answers; `unreachable` = served from memory. */
  store?: { kind: 'file' | 'etcd', state: 'ok' | 'unreachable', pending: number, where: string }
  services: Array<{
    name: string, peerId: string, addrs: string[], status: string, requires: string[], incarnation: number, seq: number, lastSeen: number | null, rttMs: number | null, load: number | null, transport?: 'http', url?: string
    /** Registries on a shared store: the registry that probes it (the one it is registered with). */
    registry?: string
    /** The health word (status, or degraded); `missing`: required names with no up provider. */
    health: Health, missing: string[]
  }>
}

/** `gds status --service NAME --status WORD`: each list matches any of its values; an empty list matches all. */
export interface StatusFilter { services: string[], health: Health[] }
const ALL: StatusFilter = { services: [], health: [] }

function matches (f: StatusFilter): (p: ProviderHealth) => boolean {
  return p => (f.services.length === 0 || f.services.includes(p.record.name)) && (f.health.length === 0 || f.health.includes(p.health))
}

/** The providers that pass the filter, each judged against the whole catalogue. */
function selected (list: ListResult, filter: StatusFilter): ProviderHealth[] {
  return providerHealth(list.services).filter(matches(filter))
}

export function toStatusJson (list: ListResult, filter: StatusFilter = ALL): StatusJson {
  return {
    registry: { peerId: list.registry.peerId, addrs: list.registry.addrs },
    ...(list.source?.role === 'peer' ? { source: list.source } : {}),
    ...(list.source?.store === undefined ? {} : { store: list.source.store }),
    services: selected(list, filter).map(({ record: s, health, missing }) => ({
      name: s.name,
      peerId: s.peerId,
      addrs: s.addrs,
      status: s.status,
      requires: s.requires,
      incarnation: s.incarnation,
      seq: s.seq,
      lastSeen: s.lastSeen ?? null,
      rttMs: s.rttMs ?? null,
      load: s.load ?? null,
      health,
      missing,
      // Only on entries of the Go registry's HTTP API, so other records print as before.
      ...(s.transport === undefined ? {} : { transport: s.transport }),
      ...(s.url === undefined ? {} : { url: s.url }),
      ...registryOf(s)
    }))
  }
}

function registryOf (s: ListedRecord): { registry?: string } {
  return s.registry === undefined ? {} : { registry: s.registry }
}

/** What `gds status` prints: whose view (with --peer), the counts by health, one summary per name, the table. */
export function statusView (list: ListResult, now: number, filter: StatusFilter = ALL): string {
  const lines: string[] = []
  if (list.source?.role === 'peer') {
    lines.push(peerViewText(list.source, list.services.length))
  }
  const rows = selected(list, filter)
  const countText = HEALTH_WORDS.map(h => [h, rows.filter(r => r.health === h).length] as const).filter(([, n]) => n > 0).map(([h, n]) => `${n} ${h}`).join(', ')
  lines.push(`registry ${shortId(list.registry.peerId)}  ${rows.length} services${countText === '' ? '' : `: ${countText}`}${storeText(list.source?.store)}`)
  if (list.services.length > 0 && rows.length === 0) {
    lines.push(`no service matches${filter.services.length > 0 ? ` --service ${filter.services.join(',')}` : ''}${filter.health.length > 0 ? ` --status ${filter.health.join(',')}` : ''}`)
    return lines.join('\n')
  }
  if (rows.length > 0) lines.push(nameSummary(rows))
  lines.push(statusTable(list.services, now, matches(filter)))
  return lines.join('\n')
}

/** `  store etcd 10.0.0.5:2379 ok`, or why the registry serves from memory. */
function storeText (store: StatusJson['store']): string {
  if (store === undefined) return ''
  return store.state === 'ok'
    ? `  store ${store.kind} ${store.where} ok`
    : `  store ${store.kind} ${store.where} UNREACHABLE (serving from memory; ${store.pending} change(s) not yet written)`
}

/** `grading 2/2 up · log 0/1 leaving · webui 1/1 degraded (no log)`: how many instances of each name serve. */
function nameSummary (rows: ProviderHealth[]): string {
  return nameHealth(rows).map(n => {
    const missing = [...new Set(rows.filter(r => r.record.name === n.name && r.health === 'degraded').flatMap(r => r.missing))]
    return `${n.name} ${n.up}/${n.total} ${n.health}${n.health === 'degraded' ? ` (no ${missing.join(', ')})` : ''}`
  }).join(' · ')
}
