import type { Change } from '../../../node/catalog.js'
import type { ProviderRecord } from '../../../node/schemas.js'

/**
 * Where a registry keeps its catalogue: the data dir (one registry, the default) or etcd
 * (several registries sharing one catalogue). The hub's Catalog stays the table it serves
 * from; a store only persists its changes and, when shared, brings in the others' changes.
 */
export interface CatalogStore {
  /** For logs and events: a file path or the etcd endpoints. */
  readonly where: string
  /** What was persisted, or undefined when nothing was (or it cannot be read: logged). */
  load: () => Promise<ProviderRecord[] | undefined>
  /** The hub's own changes; written in the background, coalesced, never lost while the process lives. */
  save: (changes: readonly Change[]) => void
  /** Starts bringing in the records other registries write (a shared store); returns at once. */
  follow: (onRecords: (records: ProviderRecord[]) => void) => void
  /** What `gds status` says about the store. */
  state: () => StoreState
  /** Writes what is pending (as far as it can) and lets go. */
  stop: () => Promise<void>
}

export interface StoreState {
  kind: 'file' | 'etcd'
  /** `unreachable`: serving from memory, changes pending until the store answers again. */
  state: 'ok' | 'unreachable'
  /** Changes not yet written. */
  pending: number
}
