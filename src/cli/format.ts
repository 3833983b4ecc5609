import type { TimedEvent } from '../node/events.js'
import type { LogEntry } from '../node/log-shipper.js'
import { eventWord, providerHealth, type ProviderHealth } from '../node/health.js'
import { localTime } from '../node/local-time.js'
import type { ListResult, ProviderRecord } from '../node/schemas.js'
import { safeText } from '../node/safe-text.js'

/** 12D3KooWAbc…wxyz: enough to tell peers apart in a table. */
export function shortId (peerId: string): string {
  return peerId.length <= 16 ? peerId : `${peerId.slice(0, 8)}…${peerId.slice(-6)}`
}

function clock (ts: number): string {
  return localTime(ts, Date.now())
}

/** One human line for a node event (the --json twin is the event itself). */
export function formatEvent (e: TimedEvent): string {
  const t = clock(e.ts)
  switch (e.event) {
    case 'listening':
      return `${t} ${e.role === 'registry' ? 'registry' : e.name} listening as ${e.peerId}\n${e.addrs.map(a => `    ${a}`).join('\n')}` +
        (e.role === 'registry' ? `\n  others join with: gds node start --role service --name demo --registry ${pickAddr(e.addrs)}` : '')
    case 'registered':
      return `${t} registered ${e.names.join(', ')} with registry ${shortId(e.registry)}` +
        (e.missing.length > 0 ? ` (waiting for a provider of: ${e.missing.join(', ')})` : '')
    case 'registry-learnt':
      return `${t} registry is ${e.registry} (not pinned; ${e.hint})`
    case 'registry-lost':
      return `${t} lost the registry ${shortId(e.registry)} (${e.reason}); serving with the last known catalogue and reconnecting`
    case 'registry-home':
      return `${t} home registry ${shortId(e.registry)} is back: registering there again (leaving ${shortId(e.from)})`
    case 'registry-retry':
      return `${t} registry not reachable (${safeText(e.error)}); retry ${e.attempt} in ${e.delayMs} ms`
    case 'registration-refused':
      return `${t} the registry refused this node: ${safeText(e.error)}`
    case 'catalog-loaded':
      return `${t} loaded ${e.entries} catalogue entries from ${e.path}`
    case 'store-state':
      return e.state === 'ok'
        ? `${t} catalogue store ${e.store} answers again; writing ${e.pending} pending change(s)`
        : `${t} catalogue store ${e.store} unreachable (${safeText(e.error ?? 'no answer')}); serving from memory`
    case 'provider-up':
    case 'provider-suspect':
    case 'provider-down':
      return `${t} ${eventWord(e).padEnd(7)} ${e.name} ${shortId(e.peerId)} (${e.reason}, via ${e.via})`
    case 'provider-removed':
      return `${t} removed ${e.name} ${shortId(e.peerId)} from the catalogue`
    case 'degraded':
      return `${t} degraded: no provider of ${e.missing.join(', ')} yet`
    case 'ready':
      return `${t} ready (Ctrl-C to stop)`
    case 'serving':
      return `${t} ${e.service} serving ${e.url}${e.login === undefined ? '' : `\n    sign in (once per browser): ${e.login}`}`
    case 'stopping':
      return `${t} stopping (${e.reason})`
    case 'stopped':
      return `${t} stopped`
  }
}

/** Fields every entry has, shown in their own columns rather than as key=value. */
const ENTRY_COLUMNS = new Set(['ts', 'sentAt', 'level', 'service', 'peerId', 'msg', 'inc', 'seq', 'pid', 'role'])

/** One human line for a cluster log entry; its other fields follow as key=value. One line even if a sender put a newline in. */
export function formatEntry (e: LogEntry): string {
  const fields = Object.entries(e).filter(([k]) => !ENTRY_COLUMNS.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return safeText(`${clock(e.ts)} ${e.level.toUpperCase().padEnd(5)} ${e.service.padEnd(10)} ${shortId(e.peerId)} ${e.msg}${fields.length > 0 ? '  ' + fields.join(' ') : ''}`)
}

/** The loopback address if there is one (what a second terminal on this machine wants). */
export function pickAddr (addrs: string[]): string {
  return addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? addrs[0] ?? ''
}

export function age (ms: number): string {
  if (ms < 1_000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return `${Math.round(ms / 60_000)}m`
}

/**
 * Where a peer's view comes from and how fresh it is, for `status --peer` and the fallbacks of
 * the TUI and web UI. Ages are on the peer's own clock (its `now`), so clock skew does not show.
 */
export function peerViewText (source: NonNullable<ListResult['source']>, entries: number): string {
  const now = source.now
  const since = (ts: number | undefined, what: string): string =>
    ts === undefined || now === undefined ? '' : ts === 0 ? `; ${what} never` : `; ${what} ${age(Math.max(0, now - ts))} ago`
  const registry = source.registryConnected ? 'registry connected' : 'registry NOT reachable from it'
  return `view of peer ${shortId(source.peerId)}: the whole catalogue it holds (${entries} entries; ${registry}` +
    `${since(source.registryLastSeen, 'last heard from the registry')}${since(source.changedAt, 'last change')})`
}

/** Who an entry is in a table: a service of the Go HTTP API by its URL (it has no libp2p peer). */
export function whoOf (r: Pick<ProviderRecord, 'peerId' | 'transport' | 'url'>): string {
  return r.transport === 'http' && r.url !== undefined ? r.url : shortId(r.peerId)
}

/** Where an entry is reached: its URL (HTTP API) or its first multiaddr without /p2p/. */
export function whereOf (r: Pick<ProviderRecord, 'addrs' | 'transport' | 'url'>): string {
  return r.transport === 'http' ? r.url ?? '' : (r.addrs[0] ?? '').replace(/\/p2p\/.*$/, '')
}

/** The catalogue as a table: what `gds status` prints; `keep` filters rows, health is judged on them all. */
export function statusTable (services: ProviderRecord[], now: number, keep: (p: ProviderHealth) => boolean = () => true): string {
  if (services.length === 0) return 'no services registered'
  const rows = providerHealth(services).filter(keep)
    .sort((a, b) => a.record.name.localeCompare(b.record.name) || a.record.peerId.localeCompare(b.record.peerId))
    .map(({ record: s, health }) => [s.name, whoOf(s), health, s.requires.join(',') || '-', s.rttMs === undefined ? '-' : `${s.rttMs}ms`,
      s.lastSeen === undefined ? '-' : `${age(Math.max(0, now - s.lastSeen))} ago`])
  return table(['NAME', 'PEER', 'STATUS', 'REQUIRES', 'RTT', 'LAST SEEN'], rows)
}

/** Cells are neutralised before they are measured, so a name with control characters neither acts nor skews the columns. */
export function table (header: string[], rows0: string[][]): string {
  const rows = rows0.map(r => r.map(safeText))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
