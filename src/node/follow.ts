import type { ServiceDefinition } from './service.js'

/**
 * Which names a node's catalogue keeps current, decided once per node. Every node holds every
 * record it hears (DESIGN.md §4: any node can show the whole cluster), but a service *keeps*
 * only what it requires current: the hub pushes those to it, so calls read them from the table
 * and its events are about them. Other names it has from gossip and the registry's snapshot at
 * each registration, best effort. The registry keeps every name, fed by registrations and
 * heartbeats only, so gossip never writes into the authoritative table.
 */
export interface Following {
  /** The catalogue holds the current providers of `name`: calls read it, not a registry lookup. */
  keeps: (name: string) => boolean
  /** Gossip records about `name` are applied to the catalogue (a service: every name). */
  gossips: (name: string) => boolean
}

export function following (services: readonly ServiceDefinition[], hub: boolean): Following {
  if (hub) return { keeps: () => true, gossips: () => false }
  const required = new Set(services.flatMap(s => s.requires ?? []))
  const keeps = (name: string): boolean => required.has(name)
  return { keeps, gossips: () => true }
}
