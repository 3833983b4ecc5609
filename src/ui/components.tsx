import { Box, Text } from 'ink'
import type { ReactElement } from 'react'
import type { CatalogSnapshot, FeedConnection } from '../node/catalog-feed.js'
import type { NodeEvent } from '../node/events.js'
import { eventWord, HEALTH_WORDS, healthCounts, providerHealth, type Health } from '../node/health.js'
import { localTime } from '../node/local-time.js'
import type { WatchView } from '../node/watch-view.js'
import { peerViewText, shortId, whereOf } from '../cli/format.js'
import { safeText } from '../node/safe-text.js'
import { ago, dependencies, sparkline, type Row, type SortKey } from './model.js'

const COLOR: Record<Health, string> = { up: 'green', degraded: 'yellow', suspect: 'yellow', down: 'red', leaving: 'gray' }

export function Header (p: { readonly registry: string, readonly view: WatchView, readonly connection: FeedConnection, readonly viewOf?: string, readonly viewSource?: CatalogSnapshot['viewSource'], readonly lastError?: string, readonly since?: number, readonly now?: number }): ReactElement {
  const counts = healthCounts(providerHealth([...p.view.services.values()]))
  const state = p.connection === 'connected' ? <Text color='green'>connected</Text>
    : p.connection === 'peer' ? <Text color='yellow'>registry unreachable: showing the {p.viewSource === undefined ? `view of peer ${shortId(p.viewOf ?? '')}` : peerViewText(p.viewSource, p.view.services.size)}; reconnecting</Text>
      : <Text color='yellow'>{p.connection}{p.connection === 'reconnecting' ? awayText(p) : ''}</Text>
  return (
    <Box flexDirection='column'>
      <Text><Text bold>gds</Text> registry {p.registry} {p.view.registry === undefined ? '' : shortId(p.view.registry.peerId)} · {state}</Text>
      <Text>{HEALTH_WORDS.map((h, i) => <Text key={h}>{i > 0 ? ' · ' : ''}<Text color={COLOR[h]}>{counts[h]} {h}</Text></Text>)}</Text>
    </Box>
  )
}

/** Why the TUI is reconnecting, since when, and whether what it shows is anything at all. */
function awayText (p: { readonly view: WatchView, readonly lastError?: string, readonly since?: number, readonly now?: number }): string {
  const since = p.since === undefined ? '' : ` since ${localTime(p.since, p.now ?? Date.now(), { ms: false })}`
  const why = p.lastError === undefined ? '' : `: ${p.lastError}`
  const shown = p.view.registry === undefined && p.view.services.size === 0 ? 'nothing known yet' : 'showing the last known state'
  return `${since} (${shown})${why}`
}

/** Fits `text` into `w` columns (plus a space), neutralised first; w = 0 hides the column. */
function cell (text0: string, w: number): string {
  if (w === 0) return ''
  const text = safeText(text0)
  return text.length > w ? `${text.slice(0, w - 1)}… ` : text.padEnd(w + 1)
}

export function ServiceTable (p: { readonly rows: readonly Row[], readonly selected: number, readonly now: number, readonly wide: boolean }): ReactElement {
  // 80 columns: no address, no sparkline. Wide terminals get both.
  const w = { name: p.wide ? 14 : 10, peer: 16, addr: p.wide ? 26 : 0, status: 8, rtt: 6, spark: p.wide ? 8 : 0, load: 5, seen: 7, req: 4 }
  return (
    <Box flexDirection='column' marginTop={1}>
      <Text bold>{cell('NAME', w.name)}{cell('PEER', w.peer)}{cell('ADDRESS', w.addr)}{cell('STATUS', w.status)}{cell('RTT', w.rtt)}{cell('', w.spark)}{cell('LOAD', w.load)}{cell('SEEN', w.seen)}{cell('REQ', w.req)}</Text>
      {p.rows.length === 0 ? <Text dimColor>no services</Text> : null}
      {p.rows.map((row, i) => {
        const r = row.record
        return (
          <Text key={`${r.name}/${r.peerId}`} inverse={i === p.selected}>
            {cell(r.name, w.name)}{cell(r.transport === 'http' ? 'http' : shortId(r.peerId), w.peer)}{cell(whereOf(r), w.addr)}
            <Text color={COLOR[row.health]}>{cell(row.health, w.status)}</Text>
            {cell(r.rttMs === undefined ? '-' : `${r.rttMs}ms`, w.rtt)}<Text color='cyan'>{cell(sparkline(row.rtt), w.spark)}</Text>
            {cell(String(r.load ?? '-'), w.load)}{cell(ago(p.now, r.lastSeen), w.seen)}
            <Text color={row.satisfied ? 'green' : 'red'}>{row.satisfied ? 'ok' : 'no'}</Text>
          </Text>
        )
      })}
    </Box>
  )
}

export function DependencyPanel (p: { readonly view: WatchView, readonly name: string | undefined }): ReactElement | null {
  if (p.name === undefined) return null
  const d = dependencies(p.view, p.name)
  return (
    <Box flexDirection='column' marginTop={1} borderStyle='round' paddingX={1}>
      <Text bold>{safeText(p.name)}</Text>
      {d.requires.length === 0 ? <Text dimColor>requires nothing</Text> : null}
      {d.requires.map(r => (
        <Text key={r.name}>requires {safeText(r.name)}: {r.providers.length === 0 ? <Text color='red'>no provider up</Text> : <Text color='green'>{r.providers.map(x => shortId(x.peerId)).join(', ')}</Text>}</Text>
      ))}
      <Text>required by: {d.dependents.length === 0 ? <Text dimColor>nobody</Text> : safeText(d.dependents.join(', '))}</Text>
    </Box>
  )
}

function describe (e: NodeEvent): string {
  switch (e.event) {
    case 'provider-up':
    case 'provider-suspect':
    case 'provider-down': return `${eventWord(e).padEnd(8)} ${e.name} ${shortId(e.peerId)} (${e.reason})`
    case 'provider-removed': return `removed  ${e.name} ${shortId(e.peerId)}`
    default: return e.event
  }
}

export function EventLog (p: { readonly events: ReadonlyArray<NodeEvent & { ts: number }>, readonly max: number }): ReactElement {
  return (
    <Box flexDirection='column' marginTop={1}>
      <Text bold>events (newest first)</Text>
      {p.events.length === 0 ? <Text dimColor>none yet</Text> : null}
      {p.events.slice(0, p.max).map((e, i) => (
        <Text key={`${e.ts}-${i}`} color={e.event === 'provider-down' ? 'red' : e.event === 'provider-suspect' ? 'yellow' : e.event === 'provider-up' ? 'green' : undefined}>
          {localTime(e.ts, Date.now(), { ms: false })} {safeText(describe(e))}
        </Text>
      ))}
    </Box>
  )
}

export function Footer (p: { readonly filter: string, readonly filtering: boolean, readonly sort: SortKey }): ReactElement {
  return (
    <Box marginTop={1}>
      <Text dimColor>↑/↓ select · enter details · f filter{p.filtering ? <Text color='cyan'> [{p.filter}▏ enter to apply]</Text> : p.filter !== '' ? ` [${p.filter}]` : ''} · s sort ({p.sort}) · q quit</Text>
    </Box>
  )
}
