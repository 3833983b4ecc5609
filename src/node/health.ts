import type { ProviderRecord } from './schemas.js'

/**
 * The health words every view uses (gds status, the TUI, the web page): a provider's catalogue
 * status, except that an `up` provider a required name has no up provider for is `degraded`.
 * `leaving` is a graceful stop (its reason is "left"); `down` is a failure the registry detected.
 */
export const HEALTH_WORDS = ['up', 'degraded', 'suspect', 'down', 'leaving'] as const
export type Health = typeof HEALTH_WORDS[number]

export interface ProviderHealth {
  record: ProviderRecord
  health: Health
  /** Required names with no up provider (what makes an up provider degraded). */
  missing: string[]
}

/** Each provider's health, judged against the whole catalogue. Pure. */
export function providerHealth (records: readonly ProviderRecord[]): ProviderHealth[] {
  const upNames = new Set(records.filter(r => r.status === 'up').map(r => r.name))
  return records.map(record => {
    const missing = record.requires.filter(n => !upNames.has(n))
    return { record, missing, health: record.status === 'up' && missing.length > 0 ? 'degraded' : record.status }
  })
}

export interface NameHealth {
  name: string
  /** Its best instance's health: up when one is up, else degraded, suspect, down, leaving. */
  health: Health
  /** Instances counted as serving (up or degraded) out of all listed. */
  up: number
  total: number
}

/** One summary per service name (consul catalog services' idea): how many of its instances serve. Pure. */
export function nameHealth (providers: readonly ProviderHealth[]): NameHealth[] {
  const byName = new Map<string, ProviderHealth[]>()
  for (const p of providers) byName.set(p.record.name, [...byName.get(p.record.name) ?? [], p])
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, inst]) => ({
    name,
    health: HEALTH_WORDS.find(h => inst.some(i => i.health === h)) ?? 'down',
    up: inst.filter(i => i.health === 'up' || i.health === 'degraded').length,
    total: inst.length
  }))
}

/** How many providers have each health word (every word present, zeros included), for headers. Pure. */
export function healthCounts (providers: readonly ProviderHealth[]): Record<Health, number> {
  const counts = Object.fromEntries(HEALTH_WORDS.map(h => [h, 0])) as Record<Health, number>
  for (const p of providers) counts[p.health]++
  return counts
}

/**
 * The health word of a provider event in human lines: a graceful stop is `leaving` (its event
 * stays provider-down with reason "left" under --json), so a stopped node reads the same in
 * events as in gds status. Pure.
 */
export function eventWord (e: { event: string, reason?: string }): string {
  if (e.event === 'provider-down' && e.reason === 'left') return 'leaving'
  return e.event.replace(/^provider-/, '')
}
