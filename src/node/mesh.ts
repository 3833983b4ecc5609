import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { jitter } from './backoff.js'
import { isKnown, type Registries } from './gossip.js'
import type { GdsLibp2p } from './libp2p.js'
import type { Logger } from './logger.js'
import { RecentMap } from './recent-map.js'

/** Peers remembered for the mesh; the oldest are forgotten first. */
const MAX_KNOWN = 256

export interface MeshOptions {
  libp2p: GdsLibp2p
  log: Logger
  /** Connections this node dials and keeps to peers other than the registry. @default 4 */
  degree: number
  /** How often to top the connections up. */
  intervalMs: number
  /** The registry (or registries): not counted as mesh links, never dialled as one. */
  registryId: () => Registries
  /**
   * The live peers of this node's catalogue, with their addresses: candidates besides those
   * learnt. While the registry is up members announce nothing, so gossip teaches a node few
   * peers; the catalogue it holds (the registry's, paged in) names them all, and the mesh must be
   * formed before the registry is lost (the fanout bench: a median of 0 gossipsub mesh peers).
   */
  members?: () => Iterable<{ peerId: string, addrs: string[] }>
}

/**
 * Keeps each node connected to a bounded random set of other peers, learnt from gossip and
 * --bootstrap, so the gossip mesh is not a star around the registry and survives its loss.
 */
export class MeshKeeper {
  private readonly known = new RecentMap<string, string[]>(MAX_KNOWN)
  private timer?: NodeJS.Timeout
  private stopped = false
  private kicked = false

  constructor (private readonly opts: MeshOptions) {}

  learn (peerId: string, addrs: string[]): void {
    if (peerId === this.opts.libp2p.peerId.toString() || addrs.length === 0) return
    const isNew = !this.known.has(peerId)
    this.known.set(peerId, addrs)
    // A peer we did not know, while we are short of links: top up now, not at the next round.
    if (isNew && !this.kicked && !this.stopped) {
      this.kicked = true
      setTimeout(() => { this.kicked = false; void this.tick() }, 50).unref()
    }
  }

  /** Dials the given addresses now; they also become mesh candidates. */
  async bootstrap (addrs: readonly string[]): Promise<void> {
    await Promise.all(addrs.map(async a => {
      try {
        const conn = await this.opts.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(5_000) })
        this.learn(conn.remotePeer.toString(), [a])
      } catch (err: any) {
        this.opts.log.warn({ addr: a, err: err?.message }, 'bootstrap peer unreachable')
      }
    }))
  }

  start (): void {
    this.schedule()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** One round: dial random known peers until `degree` non-registry peers are connected. */
  async tick (): Promise<void> {
    // Nothing to dial: the registry (given no members), connected to every service, knows none
    // it lacks, and listing its thousand connections each round was a few % of its CPU.
    if (this.known.size === 0 && this.opts.members === undefined) return
    const registries = this.opts.registryId()
    // Count only links this node dialed: if inbound ones counted, early joiners fill up on each
    // other and the mesh splits into cliques. Random out-degree `degree` keeps it connected.
    const dialed = new Set(this.opts.libp2p.getConnections().filter(c => c.direction === 'outbound').map(c => c.remotePeer.toString()))
    const have = [...dialed].filter(p => !isKnown(registries, p)).length
    const want = this.opts.degree - have
    if (want <= 0) return
    const connected = new Set(this.opts.libp2p.getPeers().map(String))
    const addrsOf = new Map(this.known)
    const self = this.opts.libp2p.peerId.toString()
    for (const m of this.opts.members?.() ?? []) if (m.peerId !== self && m.addrs.length > 0 && !addrsOf.has(m.peerId)) addrsOf.set(m.peerId, m.addrs)
    const candidates = [...addrsOf.keys()].filter(p => !connected.has(p) && !isKnown(registries, p))
    shuffle(candidates)
    await Promise.all(candidates.slice(0, want).map(async p => {
      try {
        const peer = peerIdFromString(p)
        await this.opts.libp2p.peerStore.merge(peer, { multiaddrs: (addrsOf.get(p) ?? []).map(a => multiaddr(a)) })
        await this.opts.libp2p.dial(peer, { signal: AbortSignal.timeout(5_000) })
      } catch {
        this.known.delete(p)
      }
    }))
  }

  private schedule (): void {
    if (this.stopped) return
    this.timer = setTimeout(() => { void this.tick().finally(() => { this.schedule() }) }, jitter(this.opts.intervalMs, 0.2, Math.random()))
    this.timer.unref()
  }
}

/** Fisher-Yates in place; `random` in [0, 1). */
export function shuffle<T> (a: T[], random: () => number = Math.random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = a[i]; a[i] = a[j]; a[j] = t
  }
}
