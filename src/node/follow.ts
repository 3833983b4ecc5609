import type { ServiceDefinition } from './service.js'

/**
 * Which names a node's catalogue keeps current, decided once per node. A service keeps what it
 * requires, fed by its registry session and by gossip; the registry keeps every name, fed by
 * registrations and heartbeats only, so gossip never writes into the authoritative table.
 */
export interface Following {
  /** The catalogue holds the current providers of `name`: calls read it, not a registry lookup. */
  keeps: (name: string) => boolean
  /** Gossip records about `name` are applied to the catalogue. */
  gossips: (name: string) => boolean
}

export function following (services: readonly ServiceDefinition[], hub: boolean): Following {
  if (hub) return { keeps: () => true, gossips: () => false }
  const required = new Set(services.flatMap(s => s.requires ?? []))
  const keeps = (name: string): boolean => required.has(name)
  return { keeps, gossips: keeps }
}
