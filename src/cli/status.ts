import type { ListResult } from '../node/schemas.js'
import { shortId, statusTable } from './format.js'

/** The script contract of `gds status --json` (DESIGN.md §10), mapped explicitly from the catalogue. */
export interface StatusJson {
  registry: { peerId: string, addrs: string[] }
  /** Present with --peer: whose view this is. */
  source?: { peerId: string, role: 'registry' | 'peer', registryConnected: boolean, connectedPeers?: number }
  services: Array<{ name: string, peerId: string, addrs: string[], status: string, requires: string[], incarnation: number, seq: number, lastSeen: number | null, rttMs: number | null, load: number | null, transport?: 'http', url?: string }>
}

export function toStatusJson (list: ListResult): StatusJson {
  return {
    registry: { peerId: list.registry.peerId, addrs: list.registry.addrs },
    ...(list.source?.role === 'peer' ? { source: list.source } : {}),
    services: list.services.map(s => ({
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
      // Only on entries of the Go registry's HTTP API, so other records print as before.
      ...(s.transport === undefined ? {} : { transport: s.transport }),
      ...(s.url === undefined ? {} : { url: s.url })
    }))
  }
}

const STATUSES = ['up', 'suspect', 'down', 'leaving'] as const

/** What `gds status` prints: whose view (with --peer), a summary line, the table. */
export function statusView (list: ListResult, now: number): string {
  const lines: string[] = []
  if (list.source?.role === 'peer') {
    lines.push(`view of peer ${shortId(list.source.peerId)} (its own entries and what it follows; registry ${list.source.registryConnected ? 'connected' : 'NOT reachable from it'})`)
  }
  const counts = STATUSES.map(s => [s, list.services.filter(x => x.status === s).length] as const).filter(([, n]) => n > 0)
  lines.push(`registry ${shortId(list.registry.peerId)}  ${list.services.length} services${counts.length > 0 ? ': ' + counts.map(([s, n]) => `${n} ${s}`).join(', ') : ''}`)
  lines.push(statusTable(list.services, now))
  return lines.join('\n')
}
