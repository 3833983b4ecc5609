import { eventWord, HEALTH_WORDS, healthCounts, providerHealth } from '../../node/health.js'
import { localTime } from '../../node/local-time.js'
import type { ListResult, ProviderRecord } from '../../node/schemas.js'
import type { WatchView } from '../../node/watch-view.js'
import { peerViewText, whereOf } from '../../cli/format.js'
import { html, type Html } from './html.js'

/** Health of a service name: up if any instance is up, suspect if only suspect ones, else down. */
export function health (instances: readonly ProviderRecord[]): 'up' | 'suspect' | 'down' {
  if (instances.some(i => i.status === 'up')) return 'up'
  if (instances.some(i => i.status === 'suspect')) return 'suspect'
  return 'down'
}

function byName (view: WatchView): Map<string, ProviderRecord[]> {
  const m = new Map<string, ProviderRecord[]>()
  for (const r of view.services.values()) m.set(r.name, [...(m.get(r.name) ?? []), r])
  return new Map([...m.entries()].sort(([a], [b]) => a.localeCompare(b)))
}

const COLORS = { up: '#17a34a', suspect: '#d99a00', down: '#d92d20' }

export const BOX = { W: 150, H: 44, GX: 70, GY: 24 }
type Point = readonly [number, number]
export interface GraphLayout {
  width: number
  height: number
  boxes: Map<string, { x: number, y: number }>
  /** Each "requires" as a polyline from the dependent's left side to the dependency's right side. */
  edges: Array<{ from: string, to: string, points: Point[] }>
}

/**
 * Services in columns by dependency depth (a dependency left of its dependents). An edge to the
 * next column is a straight line across the gap; one that skips columns (webui → log, past
 * grading) runs along a lane below the columns it skips, so it never passes under a box.
 */
export function graphLayout (view: WatchView): GraphLayout {
  const names = byName(view)
  const requires = new Map<string, Set<string>>()
  for (const [n, inst] of names) requires.set(n, new Set(inst.flatMap(i => i.requires)))
  for (const deps of [...requires.values()]) for (const d of deps) if (!requires.has(d)) requires.set(d, new Set())
  const depth = new Map<string, number>()
  const visit = (n: string, seen: Set<string>): number => {
    if (depth.has(n)) return depth.get(n)!
    if (seen.has(n)) return 0
    seen.add(n)
    const d = Math.max(0, ...[...requires.get(n) ?? []].map(x => visit(x, seen) + 1))
    depth.set(n, d)
    return d
  }
  for (const n of requires.keys()) visit(n, new Set())
  const columns = new Map<number, string[]>()
  for (const [n, d] of [...depth.entries()].sort(([a], [b]) => a.localeCompare(b))) columns.set(d, [...(columns.get(d) ?? []), n])
  const { W, H, GX, GY } = BOX
  const pos = new Map<string, { x: number, y: number }>()
  for (const [d, col] of columns) col.forEach((n, i) => pos.set(n, { x: 10 + d * (W + GX), y: 10 + i * (H + GY) }))
  const bottom = (d: number): number => 10 + (columns.get(d)?.length ?? 0) * (H + GY) - GY
  let lanes = 0
  let lowest = 0
  const edges = [...requires.entries()].flatMap(([from, deps]) => [...deps].sort().map(to => {
    const a = pos.get(from)!; const b = pos.get(to)!
    const start: Point = [a.x, a.y + H / 2]; const end: Point = [b.x + W, b.y + H / 2]
    const skipped = Array.from({ length: Math.max(0, depth.get(from)! - depth.get(to)! - 1) }, (_, i) => depth.get(to)! + 1 + i)
    if (skipped.length === 0) return { from, to, points: [start, end] }
    const lane = Math.max(...skipped.map(bottom)) + 14 + 8 * lanes++
    lowest = Math.max(lowest, lane)
    const out = a.x - GX / 2; const into = b.x + W + GX / 2
    return { from, to, points: [start, [out, start[1]], [out, lane], [into, lane], [into, end[1]], end] as Point[] }
  }))
  const width = 20 + Math.max(1, columns.size) * (W + GX) - GX
  const height = Math.max(20 + Math.max(1, ...[...columns.values()].map(c => c.length)) * (H + GY) - GY, lowest + 10)
  return { width, height, boxes: pos, edges }
}

/** The dependency graph as SVG: services in columns by dependency depth, arrows for "requires". */
export function graphSvg (view: WatchView): Html {
  const names = byName(view)
  const { width, height, boxes: pos, edges: lines } = graphLayout(view)
  const { W, H } = BOX
  const edges = lines.map(e => html`<polyline data-edge="${e.from}->${e.to}" points="${e.points.map(p => p.join(',')).join(' ')}" fill="none" stroke="#8a93a8" stroke-width="1.5" marker-end="url(#arrow)"/>`)
  const nodes = [...pos.entries()].map(([n, p]) => {
    const inst = names.get(n) ?? []
    const h = inst.length === 0 ? 'down' : health(inst)
    const up = inst.filter(i => i.status === 'up').length
    return html`<g data-service="${n}" data-health="${h}"><rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="8" fill="#fff" stroke="${COLORS[h]}" stroke-width="2.5"/>
<circle cx="${p.x + 14}" cy="${p.y + H / 2}" r="5" fill="${COLORS[h]}"/><text x="${p.x + 26}" y="${p.y + 19}" font-size="13" font-weight="600">${n}</text>
<text x="${p.x + 26}" y="${p.y + 35}" font-size="11" fill="#5b6478">${up}/${inst.length} up</text></g>`
  })
  return html`<svg role="img" aria-label="dependency graph" viewBox="0 0 ${width} ${height}" width="100%" style="max-height:320px">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#8a93a8"/></marker></defs>
${edges}${nodes}</svg>`
}

export function instancesTable (view: WatchView, now: number): Html {
  // The same health words as gds status and the TUI, judged on the whole catalogue.
  const health = new Map(providerHealth([...view.services.values()]).map(p => [p.record, p.health]))
  const rows = [...byName(view).values()].flat().map(r => html`<tr data-peer="${r.peerId}"><td>${r.name}</td><td><span class="pill ${health.get(r) ?? r.status}">${health.get(r) ?? r.status}</span></td>
<td><code title="${r.peerId}">${r.transport === 'http' ? 'http' : `${r.peerId.slice(0, 12)}…${r.peerId.slice(-6)}`}</code></td><td><code title="${r.addrs.join(' ')}">${whereOf(r)}</code></td>
<td class="num">${r.rttMs === undefined ? '-' : `${r.rttMs} ms`}</td><td class="num">${r.load ?? '-'}</td>
<td class="num">${r.lastSeen === undefined ? '-' : `${Math.max(0, Math.round((now - r.lastSeen) / 100) / 10)} s ago`}</td><td>${r.requires.join(', ') || '-'}</td></tr>`)
  return html`<table><thead><tr><th>Service</th><th>Status</th><th>Peer</th><th>Address</th><th>RTT</th><th>Load</th><th>Last seen</th><th>Requires</th></tr></thead>
<tbody>${rows.length > 0 ? rows : [html`<tr><td colspan="8" class="muted">no services registered</td></tr>`]}</tbody></table>`
}

export function eventsList (view: WatchView, now: number): Html {
  const items = view.events.slice(0, 50).map(e => {
    const t = localTime(e.ts, now, { ms: false })
    const what = eventWord(e)
    const who = 'name' in e ? `${e.name} ${'peerId' in e ? e.peerId.slice(-6) : ''}` : ''
    const why = 'reason' in e ? ` (${e.reason})` : ''
    return html`<li><span class="muted">${t}</span> <span class="pill ${what === 'removed' ? 'down' : what}">${what}</span> ${who}${why}</li>`
  })
  return html`<ul class="events">${items.length > 0 ? items : [html`<li class="muted">no events yet</li>`]}</ul>`
}

/** The three live parts of the cluster page, rendered on the server (escaping in one place). */
/** `peer`: the registry is away and the view is that peer's (the feed's fallback). */
export function clusterParts (view: WatchView, connected: boolean, now: number, peer?: NonNullable<ListResult['source']>): { status: string, graph: string, table: string, events: string } {
  const counts = healthCounts(providerHealth([...view.services.values()]))
  const status = connected
    ? html`registry <code>${view.registry?.peerId ?? ''}</code>${HEALTH_WORDS.map(h => html` · <b>${counts[h]}</b> ${h}`)}`
    : peer === undefined
      ? html`<span class="pill down">registry unreachable</span> showing the last known state; reconnecting…`
      : html`<span class="pill down">registry unreachable</span> showing the ${peerViewText(peer, view.services.size)}; reconnecting…`
  return { status: status.text, graph: graphSvg(view).text, table: instancesTable(view, now).text, events: eventsList(view, now).text }
}
