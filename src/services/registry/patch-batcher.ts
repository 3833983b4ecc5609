import { entryKey } from '../../node/catalog.js'
import { MAX_GOSSIP_BYTES, type CatalogGossip } from '../../node/gossip.js'
import { newBatchId } from '../../node/gossip-id.js'
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
/**
 * Gossip messages one delay may hold: one per set of dependents (see `push`); past this many,
 * the rest share one batch no dependent is told of, so a burst of unrelated changes is still a
 * few messages, each verified by every node.
 */
export const MAX_BATCHES = 8

interface Batch {
  id: string
  records: ProviderRecord[]
  /** Dependents told of this batch: each got every record of it over the hub. undefined: none may be. */
  told?: Set<string>
}

/**
 * The hub's patches go out on gossip in batches, to the registry's mesh peers: one signed message
 * per burst, not per change. Each batch has an id the dependents that got all of it over the hub
 * are told (notifier.ts), so they drop its gossip copy unread (gossip-id.ts).
 */
export class PatchBatcher {
  private batches: Batch[] = []
  private timer?: NodeJS.Timeout

  constructor (private readonly gossip: Pick<CatalogGossip, 'publish'>, private readonly newId: () => string = newBatchId) {}

  /**
   * Queues `records` (one change set) for gossip. `sentTo` is what the hub sends each dependent
   * of them. Returns the batch each dependent may treat as delivered: one it gets every record
   * of, none of them about itself (a record about a node is news to it the hub does not send).
   */
  push (records: readonly ProviderRecord[], sentTo: ReadonlyMap<string, readonly ProviderRecord[]>): Map<string, string> {
    const told = new Map<string, string>()
    if (records.length === 0) return told
    const subjects = new Set(records.map(r => r.peerId))
    // Lists the hub builds from these very records: as long as them means all of them.
    const whole = [...sentTo].filter(([dep, sent]) => sent.length === records.length && !subjects.has(dep)).map(([dep]) => dep)
    // A batch takes these records only if its told dependents are exactly theirs: one told of it
    // who does not get them would drop news it never had; one not told cannot be now. So the
    // batches of one delay are the changes grouped by who gets all of them (order does not
    // matter: versions decide).
    let batch = this.batches.find(b => b.told !== undefined && sameMembers(b.told, whole)) ?? this.batches.find(b => b.told === undefined)
    if (batch === undefined) {
      batch = { id: this.newId(), records: [], ...(this.batches.length + 1 < MAX_BATCHES ? { told: new Set(whole) } : {}) }
      this.batches.push(batch)
    }
    batch.records.push(...records)
    if (batch.told !== undefined) for (const dep of batch.told) told.set(dep, batch.id)
    this.timer ??= setTimeout(() => { this.flush() }, PATCH_DELAY_MS)
    return told
  }

  /** Drops what is queued: the node's gossip stops with the hub. */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.batches = []
  }

  private flush (): void {
    this.timer = undefined
    for (const batch of this.batches.splice(0)) {
      // Only the newest version of each entry matters; gossip messages are capped in size.
      const latest = [...new Map(batch.records.map(r => [entryKey(r.name, r.peerId), r])).values()]
      const named = batch.told !== undefined && batch.told.size > 0
      // Only the first page is filed under the batch's id: each message needs its own. Any page
      // holds only records the told dependents have, so dropping it costs them nothing.
      let first = true
      for (const page of pageRecords(latest, { maxBytes: PATCH_BYTES, maxRecords: PATCH_BATCH })) {
        // `batch` right after `kind`: gossipsub reads it at that place (gossip-id.ts).
        void this.gossip.publish(named && first ? { kind: 'patch', batch: batch.id, records: page } : { kind: 'patch', records: page }, { flood: false })
        first = false
      }
    }
  }
}

function sameMembers (a: ReadonlySet<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every(x => a.has(x))
}
