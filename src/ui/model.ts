import { isAvailable } from '../node/catalog.js'
import type { ProviderRecord } from '../node/schemas.js'
import type { WatchView } from '../node/watch-view.js'

export type SortKey = 'name' | 'status' | 'rtt'
export const SORTS: SortKey[] = ['name', 'status', 'rtt']
const STATUS_ORDER = { down: 0, leaving: 1, suspect: 2, up: 3 }

export interface Row {
  record: ProviderRecord
  /** Every required name has an up provider. */
  satisfied: boolean
  rtt: readonly number[]
}

/** The rows the table shows: filtered by name/status substring, sorted. Pure. */
export function rows (view: WatchView, filter: string, sort: SortKey): Row[] {
  const all = [...view.services.values()]
  const upNames = new Set(all.filter(r => r.status === 'up').map(r => r.name))
  const f = filter.trim().toLowerCase()
  return all
    .filter(r => f === '' || r.name.includes(f) || r.status.includes(f))
    .map(r => ({ record: r, satisfied: r.requires.every(n => upNames.has(n)), rtt: view.rtt.get(r.peerId) ?? [] }))
    .sort((a, b) => {
      if (sort === 'status') return STATUS_ORDER[a.record.status] - STATUS_ORDER[b.record.status] || a.record.name.localeCompare(b.record.name)
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
