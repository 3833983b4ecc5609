import type { PrivateKey } from '@libp2p/interface'
import type { Catalog } from './catalog.js'
import type { GdsConfig } from './config.js'
import type { NodeEvent } from './events.js'
import type { CatalogGossip } from './gossip.js'
import type { GdsLibp2p } from './libp2p.js'
import type { Logger } from './logger.js'
import type { ListResult } from './schemas.js'

/** The settings a hub reads. */
export type HubSettings = Pick<GdsConfig, 'dataDir' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'failureThreshold' | 'reapAfterMs' | 'aclFile' | 'swarmKeyFile' | 'httpCompat' | 'store'>

export function hubSettings ({ dataDir, heartbeatIntervalMs, heartbeatTimeoutMs, failureThreshold, reapAfterMs, aclFile, swarmKeyFile, httpCompat, store }: GdsConfig): HubSettings {
  return {
    dataDir, heartbeatIntervalMs, heartbeatTimeoutMs, failureThreshold, reapAfterMs,
    ...(aclFile === undefined ? {} : { aclFile }),
    ...(httpCompat === undefined ? {} : { httpCompat }),
    ...(store === undefined ? {} : { store }),
    ...(swarmKeyFile === undefined ? {} : { swarmKeyFile })
  }
}

/**
 * What a node lends its hub (the registry role, plugged in from src/services/registry): only
 * what the hub uses, as a js-libp2p protocol gets its Components. The catalogue is the node's
 * one table; on a registry the hub is its only writer (gossip applies nothing there).
 */
export interface HubComponents extends HubSettings {
  libp2p: GdsLibp2p
  /** The node's identity key: the registry signs its grants with it (src/node/grant.ts). */
  privateKey: PrivateKey
  catalog: Catalog
  /** The gossip path: the hub's patches also go out on gds/catalog/1. */
  gossip: Pick<CatalogGossip, 'publish'>
  emit: (e: NodeEvent) => void
  log: Logger
  now: () => number
  /** In [0, 1): jitter and back-off. */
  random: () => number
}

/** What a node needs of its hub. */
export interface Hub {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** A call through the balancer failed on this peer: probe it now (false if it is not probed). */
  suspect: (peerId: string) => boolean
  /** The answer to `list`, also what `gds status` prints. */
  list: () => ListResult
}

/** Makes the hub once the node's libp2p is up (js-libp2p's `(components) => service`). */
export type HubFactory = (components: HubComponents) => Hub
