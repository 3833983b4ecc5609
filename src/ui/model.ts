import { isAvailable } from '../node/catalog.js'
import { providerHealth, type Health } from '../node/health.js'
import type { ProviderRecord } from '../node/schemas.js'
import type { WatchView } from '../node/watch-view.js'

export type SortKey = 'name' | 'status' | 'rtt'
export const SORTS: SortKey[] = ['name', 'status', 'rtt']
const HEALTH_ORDER: Record<Health, number> = { down: 0, leaving: 1, suspect: 2, degraded: 3, up: 4 }

export interface Row {
  record: ProviderRecord
  /** The health word gds status and the web page use too. */
  health: Health
  /** Every required name has an up provider. */
  satisfied: boolean
  rtt: readonly number[]
}

/** The rows the table shows: filtered by name/health substring, sorted. Pure. */
export function rows (view: WatchView, filter: string, sort: SortKey): Row[] {
  const f = filter.trim().toLowerCase()
  return providerHealth([...view.services.values()])
    .filter(({ record: r, health }) => f === '' || r.name.includes(f) || health.includes(f))
    .map(({ record: r, health, missing }) => ({ record: r, health, satisfied: missing.length === 0, rtt: view.rtt.get(r.peerId) ?? [] }))
    .sort((a, b) => {
      if (sort === 'status') return HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health] || a.record.name.localeCompare(b.record.name)
      if (sort === 'rtt') return (b.record.rttMs ?? -1) - (a.record.rttMs ?? -1)
      return a.record.name.localeCompare(b.record.name) || a.record.peerId.localeCompare(b.record.peerId)
    })
}

/** For one service: who provides each name it requires, and who requires it. */
export function dependencies (view: WatchView, name: string): { requires: Array<{ name: string, providers: ProviderRecord[] }>, dependents: string[] } {
  const all = [...view.services.values()]
  const requires = [...new Set(all.filter(r => r.name === name).flatMap(r => r.requires))]
    .map(n => ({ name: n, providers: all.filter(r => r.name === n && isAvailable(r)) }))
  const dependents = [...new Set(all.filter(r => r.requires.includes(name)).map(r => r.name))].sort()
  return { requires, dependents }
}

const BARS = '▁▂▃▄▅▆▇█'
export function sparkline (values: readonly number[], width = 8): string {
  const v = values.slice(-width)
  if (v.length === 0) return ''
  const max = Math.max(...v, 1)
  return v.map(x => BARS[Math.min(BARS.length - 1, Math.floor((x / max) * (BARS.length - 1)))]).join('')
}

export function ago (now: number, ts: number | undefined): string {
  if (ts === undefined) return '-'
  const s = Math.max(0, now - ts) / 1000
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.round(s / 60)}m`
}
