import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import { isAvailable, type Catalog, type Change } from './catalog.js'
import { GOSSIP_BUDGET } from './config.js'
import { grantMismatch, GrantVerifier } from './grant.js'
import type { Logger } from './logger.js'
import { BATCH_ID_PATTERN, CATALOG_TOPIC, MAX_NAMES_PER_PEER } from './protocols.js'
import { TokenBuckets } from './token-buckets.js'
import { grant, providerRecord, suspicion, type ProviderRecord } from './schemas.js'
import { encodeFrame } from './framing.js'
import { seenKeys } from './gossip-id.js'

/** A gossip message is small: an announcement, or a patch of a few records. */
export const MAX_GOSSIP_BYTES = 256 * 1024
/** A suspicion is a peer id and a version: a hundred-odd bytes. */
export const MAX_SUSPICION_BYTES = 512

/**
 * The kinds of message on `gds/catalog/1` (DESIGN.md §3, §4): a service announcing itself
 * (`up` or `leaving`, with the registry's grant for each name it says `up` for), the registry's
 * patches (the same it pushes to dependents directly), and a member's suspicion of another
 * while no registry is in reach (evidence for src/node/peer-verdicts.ts, never a verdict).
 */
export const catalogMessage = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('announce'),
    records: z.array(providerRecord).min(1).max(MAX_NAMES_PER_PEER),
    grants: z.array(grant).max(MAX_NAMES_PER_PEER).default([])
  }),
  // `batch` (gossip-id.ts) comes right after `kind` on the wire: gossipsub reads it there for the message id.
  z.strictObject({ kind: z.literal('patch'), batch: z.string().regex(BATCH_ID_PATTERN).optional(), records: z.array(providerRecord).min(1).max(1_000) }),
  suspicion.extend({ kind: z.literal('suspect') })
])
export type CatalogMessage = z.input<typeof catalogMessage>
/** The kinds that carry records (announcements and patches), as opposed to a suspicion. */
export type RecordsMessage = Extract<CatalogMessage, { records: unknown }>
type ParsedMessage = z.infer<typeof catalogMessage>

export interface GossipCounters {
  accepted: number
  /** Owners' announcements among those accepted (the rest: patches and suspicions). */
  announcements: number
  rejected: number
  ignored: number
  /** Messages beyond their author's budget (GOSSIP_BUDGET), dropped unread. */
  limited: number
  applied: number
  duplicates: number
  stale: number
  /** Registry patches decoded and verified that changed nothing here (every record already held). */
  redundant: number
}

export interface GossipOptions {
  pubsub: GossipSub
  catalog: Catalog
  selfId: string
  /**
   * The pinned (or learnt) registry, or every registry of a cluster sharing one catalogue
   * (several `--registry`); patches from anyone else are rejected, grants by anyone else ignored.
   */
  registryId: () => Registries
  /** Names whose records this node keeps (a service: what it requires; the registry: none). */
  follows: (name: string) => boolean
  now: () => number
  log: Logger
  onChanges: (changes: Change[]) => void
  /** A record about this very node (the registry's view of us): adopt its seq, refute a `down`. */
  onSelf: (record: ProviderRecord) => void
  /** Every valid record seen (any name): who is out there, for the mesh. */
  onPeerSeen?: (peerId: string, addrs: string[]) => void
  /** A member's accepted suspicion of another peer (possibly this very node). */
  onSuspicion?: (s: Suspicion) => void
}

/** A suspicion as accepted: who is accused, at which version, by whom (the signed author). */
export interface Suspicion { peerId: string, incarnation: number, seq: number, accuser: string }

export interface Verdict { verdict: TopicValidatorResult, parsed?: ParsedMessage, why?: string }

const decoder = new TextDecoder('utf-8', { fatal: true })

/** One registry id, a set of them, or none known yet. */
export type Registries = string | ReadonlySet<string> | undefined

/** Whether `id` is one of the registries (one id, or the set several registries share). */
export function isKnown (registries: Registries, id: string): boolean {
  return typeof registries === 'string' ? registries === id : registries?.has(id) === true
}

function noneKnown (registries: Registries): boolean {
  return registries === undefined || (typeof registries !== 'string' && registries.size === 0)
}

/**
 * Checks a message against the authority rules (DESIGN.md §4, §8). A self-announcement counts
 * only with a valid grant from the registry this node knows for every name it says `up` for;
 * a `leaving` needs none (it can only take the sender's own entries down). A grant from a
 * registry this node does not know is ignored, not punished: a relay may know a newer one.
 * A suspicion counts only from a member (`isMember`: it holds a live entry in our catalogue,
 * which only a grant or the registry put there), never about its author itself; one from a
 * peer we do not hold is ignored, as our table may lag the relay's.
 */
export async function validateCatalogMessage (msg: Message, registryId: Registries, grants: GrantVerifier, isMember: (peerId: string) => boolean = () => false): Promise<Verdict> {
  if (msg.type !== 'signed') return { verdict: TopicValidatorResult.Reject, why: 'unsigned' }
  if (msg.data.byteLength > MAX_GOSSIP_BYTES) return { verdict: TopicValidatorResult.Reject, why: 'too large' }
  let parsed: ParsedMessage
  try {
    parsed = catalogMessage.parse(JSON.parse(decoder.decode(msg.data)))
  } catch {
    return { verdict: TopicValidatorResult.Reject, why: 'malformed' }
  }
  const from = msg.from.toString()
  if (parsed.kind === 'suspect') {
    if (msg.data.byteLength > MAX_SUSPICION_BYTES) return { verdict: TopicValidatorResult.Reject, why: 'suspicion too large' }
    if (parsed.peerId === from) return { verdict: TopicValidatorResult.Reject, why: 'accuses itself' }
    if (!isMember(from)) return { verdict: TopicValidatorResult.Ignore, why: 'accuser is not a member' }
    return { verdict: TopicValidatorResult.Accept, parsed }
  }
  if (parsed.kind === 'announce') {
    if (parsed.records.some(r => r.peerId !== from)) return { verdict: TopicValidatorResult.Reject, why: 'announces another peer' }
    if (parsed.records.some(r => r.status !== 'up' && r.status !== 'leaving')) return { verdict: TopicValidatorResult.Reject, why: 'an owner may only say up or leaving' }
    const byName = new Map(parsed.grants.map(g => [g.name, g]))
    if (byName.size !== parsed.grants.length) return { verdict: TopicValidatorResult.Reject, why: 'two grants for one name' }
    for (const r of parsed.records) {
      const g = byName.get(r.name)
      if (g === undefined) {
        if (r.status === 'leaving') continue
        return { verdict: TopicValidatorResult.Reject, why: 'up without a grant' }
      }
      if (noneKnown(registryId)) return { verdict: TopicValidatorResult.Ignore, why: 'registry unknown yet' }
      if (!isKnown(registryId, g.registry)) return { verdict: TopicValidatorResult.Ignore, why: 'grant from another registry' }
      const why = grantMismatch(g, r, from)
      if (why !== undefined) return { verdict: TopicValidatorResult.Reject, why }
      if (!await grants.verify(g)) return { verdict: TopicValidatorResult.Reject, why: 'forged grant' }
    }
    return { verdict: TopicValidatorResult.Accept, parsed }
  }
  // Before we know the registry we cannot judge a patch: do not apply it, do not punish.
  if (noneKnown(registryId)) return { verdict: TopicValidatorResult.Ignore, why: 'registry unknown yet' }
  if (!isKnown(registryId, from)) return { verdict: TopicValidatorResult.Reject, why: 'patch not from the registry' }
  return { verdict: TopicValidatorResult.Accept, parsed }
}

/**
 * The gossip path of the catalogue. Every message is validated before gossipsub forwards it
 * (rejected ones are not forwarded and count against the sender's score), then merged with
 * the same rule as the hub path, so a change arriving both ways applies once. Each author
 * has a budget (the registry excepted): beyond it a message is dropped unread, and rejected
 * when the author itself delivered it, so gossipsub's score cuts a flooder off (a relay that
 * forwarded what it had room for is not at fault, and is not punished).
 */
export class CatalogGossip {
  readonly counters: GossipCounters = { accepted: 0, announcements: 0, rejected: 0, ignored: 0, limited: 0, applied: 0, duplicates: 0, stale: 0, redundant: 0 }
  private readonly onMessage = (e: CustomEvent<Message>): void => { this.apply(e.detail) }
  /** What the validator parsed, so an accepted message is decoded once. */
  private readonly parsed = new WeakMap<Message, ParsedMessage>()
  private readonly grants = new GrantVerifier()
  /** What each author may publish (GOSSIP_BUDGET). */
  private readonly budget = new TokenBuckets(GOSSIP_BUDGET)

  constructor (private readonly opts: GossipOptions) {}

  start (): void {
    const { pubsub } = this.opts
    pubsub.topicValidators.set(CATALOG_TOPIC, async (peer, msg) => {
      const { verdict, why, parsed } = await this.judge(peer, msg)
      if (verdict === TopicValidatorResult.Accept && parsed !== undefined) {
        this.counters.accepted++
        if (parsed.kind === 'announce') this.counters.announcements++
        this.parsed.set(msg, parsed)
      }
      else if (verdict === TopicValidatorResult.Reject) {
        this.counters.rejected++
        this.opts.log.debug({ from: msg.type === 'signed' ? msg.from.toString() : undefined, why }, 'rejected a gossip message')
      } else this.counters.ignored++
      return verdict
    })
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(CATALOG_TOPIC)
  }

  stop (): void {
    const { pubsub } = this.opts
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(CATALOG_TOPIC)
    try { pubsub.unsubscribe(CATALOG_TOPIC) } catch { /* stopping anyway */ }
  }

  private async judge (peer: PeerId, msg: Message): Promise<Verdict> {
    const registryId = this.opts.registryId()
    const author = msg.type === 'signed' ? msg.from.toString() : undefined
    if (author !== undefined && !isKnown(registryId, author) && this.budget.take(author, 1, this.opts.now()) > 0) {
      this.counters.limited++
      return author === peer.toString()
        ? { verdict: TopicValidatorResult.Reject, why: 'over its gossip budget' }
        : { verdict: TopicValidatorResult.Ignore, why: 'relayed beyond its author\'s gossip budget' }
    }
    return validateCatalogMessage(msg, registryId, this.grants, this.isMember)
  }

  /** A peer holding a live entry in our catalogue. */
  private readonly isMember = (peerId: string): boolean => this.opts.catalog.ofPeer(peerId).some(isAvailable)

  /** Peers subscribed to the topic right now. */
  get peers (): number {
    return this.opts.pubsub.getSubscribers(CATALOG_TOPIC).length
  }

  /**
   * `flood: false` sends to this node's mesh peers only (gossipsub floods a node's own messages
   * to every topic peer by default): the registry's patches, which its hub path already carries
   * to each dependent, must not cost it one encrypted copy per connected service.
   */
  async publish (message: CatalogMessage, opts: { flood?: boolean } = {}): Promise<void> {
    try {
      const { pubsub } = this.opts
      // GossipSub's interface omits the options its publish takes (PublishOpts in gossipsub.d.ts).
      const publish = pubsub.publish as (topic: string, data: Uint8Array, opts?: { floodPublish?: boolean }) => Promise<unknown>
      await publish.call(pubsub, CATALOG_TOPIC, encodeFrame(message), opts.flood === false ? { floodPublish: false } : undefined)
    } catch (err: any) {
      // Publishing is best effort: the hub path carries the same news.
      this.opts.log.debug({ err: err?.message }, 'gossip publish failed')
    }
  }

  /**
   * The registry's patches of these batches reached this node over the hub (their author is the
   * registry the notify stream came from, checked there): gossipsub now drops their gossip copies
   * before decoding or verifying them, and does not forward them. Only ids of that one author are
   * marked, so no one else's message can be suppressed this way.
   */
  markDelivered (registry: PeerId, batches: readonly string[]): void {
    // gossipsub's seen caches are not on its exported interface.
    const caches = this.opts.pubsub as unknown as SeenCaches
    const author = registry.toMultihash().bytes
    for (const batch of batches) {
      const { fast, id } = seenKeys(author, batch)
      caches.fastMsgIdCache?.put(fast, id)
      caches.seenCache.put(id)
    }
  }

  private apply (msg: Message): void {
    if (msg.topic !== CATALOG_TOPIC) return
    // Delivered only after the validator accepted it, which kept what it parsed.
    const parsed = this.parsed.get(msg)
    if (parsed === undefined) return
    this.parsed.delete(msg)
    if (parsed.kind === 'suspect') {
      this.opts.onSuspicion?.({ peerId: parsed.peerId, incarnation: parsed.incarnation, seq: parsed.seq, accuser: msg.type === 'signed' ? msg.from.toString() : '' })
      return
    }
    const authority = parsed.kind === 'patch' ? 'registry' : 'owner'
    const granted = new Set(parsed.kind === 'announce' ? parsed.grants.map(g => g.name) : [])
    const now = this.opts.now()
    const changes: Change[] = []
    let held = 0
    for (const record of parsed.records) {
      this.opts.onPeerSeen?.(record.peerId, record.addrs)
      if (record.peerId === this.opts.selfId) {
        this.opts.onSelf(record)
        continue
      }
      if (!this.opts.follows(record.name)) continue
      // A grant-less `leaving` only takes down what we hold; it never adds an entry.
      if (authority === 'owner' && !granted.has(record.name) && this.opts.catalog.get(record.name, record.peerId) === undefined) continue
      const { outcome, change } = this.opts.catalog.apply(record, authority, now, this.opts.selfId)
      if (outcome === 'applied' && change !== undefined) { this.counters.applied++; changes.push(change) }
      else if (outcome === 'duplicate') { this.counters.duplicates++; held++ }
      else if (outcome === 'stale') { this.counters.stale++; held++ }
    }
    if (changes.length > 0) this.opts.onChanges(changes)
    else if (parsed.kind === 'patch' && held > 0) this.counters.redundant++
  }
}

interface TimeCache { put: (key: string, value?: string) => boolean }
interface SeenCaches { seenCache: TimeCache, fastMsgIdCache?: TimeCache }
