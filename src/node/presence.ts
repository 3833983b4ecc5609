import type { GossipSub } from '@libp2p/gossipsub'
import type { CatalogGossip } from './gossip.js'
import { bump } from './catalog.js'
import { PEER_VERDICTS } from './config.js'
import { CATALOG_TOPIC } from './protocols.js'
import type { Grant, ProviderRecord, Registration } from './schemas.js'
import type { ServiceDefinition } from './service.js'
import { RecentMap } from './recent-map.js'

/** How often a node re-announces itself on gossip (while no registry is in reach). */
export const ANNOUNCE_INTERVAL_MS = 30_000
/** New topic subscribers within this long share one announcement (while no registry is in reach). */
export const ANNOUNCE_COALESCE_MS = 100
/**
 * Announcements for new subscribers are at least this far apart, so a node joining a big
 * cluster (one subscription burst after another) keeps far within the gossip budget every
 * peer holds it to (GOSSIP_BUDGET): beyond it peers would reject it as a flooder.
 */
export const ANNOUNCE_MIN_GAP_MS = 1_000

export interface PresenceOptions {
  services: ServiceDefinition[]
  peerId: string
  incarnation: number
  addrs: () => string[]
  gossip: Pick<CatalogGossip, 'publish'>
  /** Where peers joining the catalogue topic are seen. */
  pubsub: Pick<GossipSub, 'addEventListener' | 'removeEventListener'>
  /**
   * Whether this node's registry session is up. While it is, the registry is the catalogue's
   * repair: a joiner has the whole catalogue from it (its register answer and list pages), and
   * its patches carry every change. So peers joining the topic are not announced to, and there
   * is no periodic announcement: one from every member to each joiner, and one from every member
   * every ANNOUNCE_INTERVAL_MS, each verified by every node, made N members cost O(N²)
   * signature checks, and delayed the hub's patches at 50 dependents.
   */
  registryUp: () => boolean
  /**
   * Whether this node holds a live entry of `peerId`: a member, which holds the whole catalogue
   * (a registry's answer and pages, then its patches and our announcements). A member whose link
   * to us came back (connections churn on a loaded host, and the mesh keeper dials new ones) is
   * not announced to: each such link set off an announcement to the whole topic, verified by
   * every node, and in the fanout bench that load made more links drop, up to 10,111
   * announcements verified in one gossip-alone phase. The periodic announcement repairs what a
   * member missed.
   */
  holds: (peerId: string) => boolean
  /** Register again now (after refuting an accusation). */
  reregister: () => void
  now: () => number
}

type SubscriptionChange = CustomEvent<{ peerId: { toString: () => string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>

/** Subscribers remembered as announced to (the oldest forgotten first): about a cluster's size. */
const MAX_ANNOUNCED_TO = 4_096

/**
 * A node's own entries: what it registers and announces, and their version. The owner keeps
 * its seq above anything said about it (the registry bumps seq at each status change), so its
 * own word wins when it speaks: the SWIM refutation, and a `leaving` that beats an old `up`.
 */
export class Presence {
  private seq = 0
  /** The registry's grant for each name, from the last registration: announcements carry them. */
  private grants = new Map<string, Grant>()
  /**
   * The registry declared us down and has not taken a registration since. Its verdict stands
   * until it hears from us: it may be right (a partition between it and us while everyone else
   * still reaches it), and our own `up` on gossip, at a seq above its `down`, would outvote it
   * at every dependent.
   */
  private accused = false
  private announceTimer?: NodeJS.Timeout
  private coalesceTimer?: NodeJS.Timeout
  private refuteTimer?: NodeJS.Timeout
  private lastRefuted = -Infinity
  private lastAnnounced = -Infinity
  /** What the last `up` announcement said (names, versions, addresses); undefined after a `leaving`. */
  private announcedUp?: string
  /**
   * When each subscriber last joined the topic and was announced to. A peer whose link dropped
   * and came back re-joins with our entry still in its catalogue: announcing again to every
   * re-joiner, to the whole topic, was most of the gossip after the registry's loss in the fanout
   * bench (27,751 of 34,958 messages verified). At most once per ANNOUNCE_INTERVAL_MS per peer:
   * the periodic announcement covers the rest.
   */
  private readonly announcedTo = new RecentMap<string, number>(MAX_ANNOUNCED_TO)
  private readonly onSubscription = (e: SubscriptionChange): void => {
    if (this.opts.registryUp() || !e.detail.subscriptions.some(s => s.topic === CATALOG_TOPIC && s.subscribe)) return
    const peer = e.detail.peerId.toString()
    if (this.opts.holds(peer) || !this.isNewSubscriber(peer)) return
    if (this.coalesceTimer !== undefined) return
    const wait = Math.max(ANNOUNCE_COALESCE_MS, this.lastAnnounced + ANNOUNCE_MIN_GAP_MS - this.opts.now())
    // Asked again when it fires: a registration that completed meanwhile announced already.
    this.coalesceTimer = setTimeout(() => { this.coalesceTimer = undefined; if (!this.opts.registryUp()) void this.announce('up') }, wait)
  }

  constructor (private readonly opts: PresenceOptions) {}

  /** Whether `peer` joins for the first time in ANNOUNCE_INTERVAL_MS (remembered as announced to, if so). */
  private isNewSubscriber (peer: string): boolean {
    const now = this.opts.now()
    const last = this.announcedTo.get(peer)
    if (last !== undefined && now - last < ANNOUNCE_INTERVAL_MS) return false
    this.announcedTo.set(peer, now)
    return true
  }

  /**
   * While no registry is in reach, announces when peers it holds no entry of join the topic (one
   * announcement after each burst), so a node that joins through any peer hears it even while the registry is away,
   * and again every ANNOUNCE_INTERVAL_MS. Start it before any dialing, or the first subscriptions could come
   * and go unseen.
   */
  start (): void {
    this.opts.pubsub.addEventListener('subscription-change', this.onSubscription)
    this.announceTimer = setInterval(() => { if (!this.opts.registryUp()) void this.announce('up') }, ANNOUNCE_INTERVAL_MS)
    this.announceTimer.unref()
  }

  /** No more announcements of our own accord; `announce('leaving')` still goes out. */
  stop (): void {
    this.opts.pubsub.removeEventListener('subscription-change', this.onSubscription)
    clearInterval(this.announceTimer)
    clearTimeout(this.coalesceTimer)
    clearTimeout(this.refuteTimer)
    this.announceTimer = undefined
    this.coalesceTimer = undefined
    this.refuteTimer = undefined
  }

  registrations (): Registration[] {
    const addrs = this.opts.addrs().slice(0, 16)
    return this.opts.services.map(s => ({
      name: s.name,
      addrs,
      requires: [...new Set(s.requires ?? [])],
      version: s.version ?? '0.0.0',
      meta: s.meta ?? {},
      incarnation: this.opts.incarnation,
      seq: this.seq
    }))
  }

  /**
   * The registry's answer to our registration: our entries as it holds them, and its grants.
   * The grants replace the ones we had (a registry that came back with a new identity
   * signs anew; those of the old one count for no one who follows the new).
   */
  adopt (records: readonly ProviderRecord[], grants: readonly Grant[] = []): void {
    this.accused = false
    for (const r of records) {
      if (r.peerId === this.opts.peerId && r.incarnation === this.opts.incarnation) this.seq = Math.max(this.seq, r.seq)
    }
    this.grants = new Map(grants.filter(g => g.peerId === this.opts.peerId && g.incarnation === this.opts.incarnation).map(g => [g.name, g]))
  }

  /** Something said about us over gossip. Returns true if it was an accusation we refuted. */
  onSelf (record: ProviderRecord): boolean {
    if (record.incarnation !== this.opts.incarnation) return false
    this.seq = Math.max(this.seq, record.seq)
    // Only `down` is refuted. `suspect` is the registry's doubt after one late probe, settled by
    // its next probe; answering it with an announcement and a re-registration turned every late
    // probe into a cluster-wide burst, and on a loaded host that burst made more probes late.
    if (record.status !== 'down') return false
    // Refuted through the registry, not around it: a registration at a higher seq brings us
    // back up everywhere once the registry can reach us again. Announcing `up` on gossip made
    // a node cut off from the registry bounce back at once at every dependent.
    this.seq++
    this.accused = true
    this.opts.reregister()
    return true
  }

  /**
   * A member suspects us (src/node/peer-watch.ts: it has no registry in reach). Unlike the
   * registry's `down`, a peers' suspicion has no registry to be refuted through, so the refutation
   * is SWIM's: `up` on gossip at a seq above the one suspected. At most one announcement per
   * PEER_VERDICTS.refuteGapMs (later suspicions within the gap share the next one), so forged
   * suspicions cannot make us storm the topic. Ignored while the registry's own `down` stands
   * (see `accused`), and when about another incarnation. A suspicion of a seq we have already
   * gone past is answered too, at the seq we have: its author (and whoever else holds that old
   * version) missed our last word, and nobody else would correct them.
   * Returns whether it was refuted.
   */
  refute (incarnation: number, seq: number): boolean {
    if (incarnation !== this.opts.incarnation || this.accused) return false
    if (seq >= this.seq) this.seq = bump(seq)
    if (this.refuteTimer !== undefined) return true
    const wait = this.lastRefuted + PEER_VERDICTS.refuteGapMs - this.opts.now()
    const send = (): void => {
      this.refuteTimer = undefined
      this.lastRefuted = this.opts.now()
      void this.announce('up')
      // The registry takes the new seq too (when in reach, now or later): else its next change
      // of our entries, at its own seq + 1, would equal ours and be dropped as a duplicate.
      this.opts.reregister()
    }
    if (wait <= 0) send()
    else {
      this.refuteTimer = setTimeout(send, wait)
      this.refuteTimer.unref()
    }
    return true
  }

  /**
   * `up` goes out only for names the registry granted (peers refuse the others), so a node
   * that has not registered yet stays quiet; `leaving` needs no grant and names everything.
   * `onlyIfNew` (after a registration): not when the last `up` said the same, as after a
   * failover to another registry of the same catalogue (same entries, same version, which
   * every peer has): a dead registry's services re-announcing at once cost every node a
   * signature check per service while they were registering.
   */
  async announce (status: 'up' | 'leaving', opts: { onlyIfNew?: boolean } = {}): Promise<void> {
    if (status === 'up' && this.accused) return
    if (status === 'leaving') this.seq++
    const records: ProviderRecord[] = this.registrations()
      .filter(r => status === 'leaving' || this.grants.has(r.name))
      .map(r => ({ ...r, peerId: this.opts.peerId, status }))
    if (records.length === 0) return
    const said = status === 'up' ? records.map(r => `${r.name}/${r.incarnation}/${r.seq}/${r.addrs.join(' ')}`).join('|') : undefined
    if (opts.onlyIfNew === true && said === this.announcedUp) return
    this.announcedUp = said
    this.lastAnnounced = this.opts.now()
    const grants = records.flatMap(r => this.grants.get(r.name) ?? [])
    await this.opts.gossip.publish({ kind: 'announce', records, grants })
  }
}
