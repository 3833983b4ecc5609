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
  /** Starts bringing in what other registries write (a shared store); returns at once. */
  follow: (on: FollowHandlers) => void
  /** This registry holds the peer's stream and probes it (a shared store records who probes whom). */
  claim: (peerId: string) => void
  /** This registry stopped probing the peer (it left, or was reaped). */
  release: (peerId: string) => void
  /**
   * Whether this registry serves the peer: probes it and pushes it patches. A dependent takes
   * patches only from the registry it is registered with; another's would be refused (file: all).
   */
  serves: (peerId: string) => boolean
  /** The registry that probes the peer, as the store records it (a shared store only; file: undefined). */
  probedBy: (peerId: string) => string | undefined
  /** Of the peers loaded at start, the ones this registry should probe (file: all of them). */
  toProbeAtStart: (peerIds: string[]) => Promise<string[]>
  /** What `gds status` says about the store. */
  state: () => StoreState
  /** Writes what is pending (as far as it can) and lets go. */
  stop: () => Promise<void>
}

export interface FollowHandlers {
  /** Records another registry wrote. */
  records: (records: ProviderRecord[]) => void
  /** A peer whose registry died: this registry probes it now. */
  takenOver: (peerId: string) => void
  /** A peer now probed by another registry (it re-registered there). */
  disowned: (peerId: string) => void
  /** Whether the catalogue has a live (up or suspect) entry of the peer: only those are taken over. */
  isLive: (peerId: string) => boolean
}

export interface StoreState {
  kind: 'file' | 'etcd'
  /** `unreachable`: serving from memory, changes pending until the store answers again. */
  state: 'ok' | 'unreachable'
  /** Changes not yet written. */
  pending: number
}
