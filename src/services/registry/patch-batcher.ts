import { entryKey } from '../../node/catalog.js'
import { MAX_GOSSIP_BYTES, type CatalogGossip } from '../../node/gossip.js'
import { pageRecords } from '../../node/pages.js'
import type { ProviderRecord } from '../../node/schemas.js'

/**
 * Registry changes go out on gossip this long after the first of them, in one message. The hub
 * path (not delayed) has told each dependent by then, so the gossip copy neither competes with
 * it for the registry's and the dependents' event loops nor arrives first; it is the path for
 * a dependent the hub cannot reach and for the rest of the cluster (DESIGN.md §3).
 */
export const PATCH_DELAY_MS = 100
/** Records per gossip patch (the validator accepts up to 1,000). */
export const PATCH_BATCH = 500
/** Bytes of records per gossip patch: the validator rejects a message over MAX_GOSSIP_BYTES. */
export const PATCH_BYTES = MAX_GOSSIP_BYTES - 16 * 1024

/** The hub's patches go out on gossip in batches, to the registry's mesh peers: one signed message per burst, not per change. */
export class PatchBatcher {
  private queue: ProviderRecord[] = []
  private timer?: NodeJS.Timeout

  constructor (private readonly gossip: Pick<CatalogGossip, 'publish'>) {}

  push (records: readonly ProviderRecord[]): void {
    this.queue.push(...records)
    this.timer ??= setTimeout(() => { this.flush() }, PATCH_DELAY_MS)
  }

  /** Drops what is queued: the node's gossip stops with the hub. */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
  }

  private flush (): void {
    this.timer = undefined
    // Only the newest version of each entry matters; gossip messages are capped in size.
    const latest = [...new Map(this.queue.splice(0).map(r => [entryKey(r.name, r.peerId), r])).values()]
    if (latest.length === 0) return
    for (const records of pageRecords(latest, { maxBytes: PATCH_BYTES, maxRecords: PATCH_BATCH })) void this.gossip.publish({ kind: 'patch', records }, { flood: false })
  }
}
