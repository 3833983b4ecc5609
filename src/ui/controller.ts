import { CatalogFeed, type CatalogSnapshot, type ConnectWatch } from '../node/catalog-feed.js'

export type Snapshot = CatalogSnapshot

/** At most this many screen updates per second, however fast the cluster changes. */
export const RENDERS_PER_SECOND = 10

/**
 * The TUI's data: the catalogue feed with a peer's view on screen while the registry is away,
 * and at most RENDERS_PER_SECOND snapshots a second. The TUI runs at the edge, so the wall
 * clock and Math.random are its defaults.
 */
export class WatchController extends CatalogFeed {
  constructor (connect: ConnectWatch, now: () => number = Date.now, random: () => number = Math.random) {
    super({ connect, now, random, peerFallback: true, coalesceMs: 1000 / RENDERS_PER_SECOND })
  }
}
