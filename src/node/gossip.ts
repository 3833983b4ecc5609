import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import type { Catalog, Change } from './catalog.js'
import type { Logger } from './logger.js'
import { CATALOG_TOPIC } from './protocols.js'
import { providerRecord, type ProviderRecord } from './schemas.js'
import { encodeFrame } from './framing.js'

/** A gossip message is small: an announcement, or a patch of a few records. */
export const MAX_GOSSIP_BYTES = 256 * 1024

/**
 * The two kinds of message on `gds/catalog/1` (DESIGN.md §3, §4): a service announcing itself
 * (`up` or `leaving`), and the registry's patches (the same it pushes to dependents directly).
 */
export const catalogMessage = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('announce'), records: z.array(providerRecord).min(1).max(16) }),
  z.strictObject({ kind: z.literal('patch'), records: z.array(providerRecord).min(1).max(1_000) })
])
export type CatalogMessage = z.infer<typeof catalogMessage>

export interface GossipCounters {
  accepted: number
  rejected: number
  ignored: number
  applied: number
  duplicates: number
  stale: number
}

export interface GossipOptions {
  pubsub: GossipSub
  catalog: Catalog
  selfId: string
  /** The pinned (or learnt) registry; patches from anyone else are rejected. */
  registryId: () => string | undefined
  /** Names whose records this node keeps (a service: what it requires; the registry: none). */
  follows: (name: string) => boolean
  now: () => number
  log: Logger
  onChanges: (changes: Change[]) => void
  /** A record about this very node (the registry's view of us): adopt its seq, refute a `down`. */
  onSelf: (record: ProviderRecord) => void
  /** Every valid record seen (any name): who is out there, for the mesh. */
  onPeerSeen?: (peerId: string, addrs: string[]) => void
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Checks a message against the authority rules; pure apart from reading the registry id. */
export function validateCatalogMessage (msg: Message, registryId: string | undefined): { verdict: TopicValidatorResult, parsed?: CatalogMessage, why?: string } {
  if (msg.type !== 'signed') return { verdict: TopicValidatorResult.Reject, why: 'unsigned' }
  if (msg.data.byteLength > MAX_GOSSIP_BYTES) return { verdict: TopicValidatorResult.Reject, why: 'too large' }
  let parsed: CatalogMessage
  try {
    parsed = catalogMessage.parse(JSON.parse(decoder.decode(msg.data)))
  } catch {
    return { verdict: TopicValidatorResult.Reject, why: 'malformed' }
  }
  const from = msg.from.toString()
  if (parsed.kind === 'announce') {
    if (parsed.records.some(r => r.peerId !== from)) return { verdict: TopicValidatorResult.Reject, why: 'announces another peer' }
    if (parsed.records.some(r => r.status !== 'up' && r.status !== 'leaving')) return { verdict: TopicValidatorResult.Reject, why: 'an owner may only say up or leaving' }
    return { verdict: TopicValidatorResult.Accept, parsed }
  }
  // Before we know the registry we cannot judge a patch: do not apply it, do not punish.
  if (registryId === undefined) return { verdict: TopicValidatorResult.Ignore, why: 'registry unknown yet' }
  if (from !== registryId) return { verdict: TopicValidatorResult.Reject, why: 'patch not from the registry' }
  return { verdict: TopicValidatorResult.Accept, parsed }
}

/**
 * The gossip path of the catalogue. Every message is validated before gossipsub forwards it
 * (rejected ones are not forwarded and count against the sender's score), then merged with
 * the same rule as the hub path, so a change arriving both ways applies once.
 */
export class CatalogGossip {
  readonly counters: GossipCounters = { accepted: 0, rejected: 0, ignored: 0, applied: 0, duplicates: 0, stale: 0 }
  private readonly onMessage = (e: CustomEvent<Message>): void => { this.apply(e.detail) }
  /** What the validator parsed, so an accepted message is decoded once. */
  private readonly parsed = new WeakMap<Message, CatalogMessage>()

  constructor (private readonly opts: GossipOptions) {}

  start (): void {
    const { pubsub } = this.opts
    pubsub.topicValidators.set(CATALOG_TOPIC, (_peer, msg) => {
      const { verdict, why, parsed } = validateCatalogMessage(msg, this.opts.registryId())
      if (verdict === TopicValidatorResult.Accept && parsed !== undefined) {
        this.counters.accepted++
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

  /** Peers subscribed to the topic right now. */
  get peers (): number {
    return this.opts.pubsub.getSubscribers(CATALOG_TOPIC).length
  }

  async publish (message: CatalogMessage): Promise<void> {
    try {
      await this.opts.pubsub.publish(CATALOG_TOPIC, encodeFrame(message))
    } catch (err: any) {
      // Publishing is best effort: the hub path carries the same news.
      this.opts.log.debug({ err: err?.message }, 'gossip publish failed')
    }
  }

  private apply (msg: Message): void {
    if (msg.topic !== CATALOG_TOPIC) return
    // Delivered only after the validator accepted it.
    const parsed = this.parsed.get(msg) ?? validateCatalogMessage(msg, this.opts.registryId()).parsed
    if (parsed === undefined) return
    const authority = parsed.kind === 'patch' ? 'registry' : 'owner'
    const now = this.opts.now()
    const changes: Change[] = []
    for (const record of parsed.records) {
      this.opts.onPeerSeen?.(record.peerId, record.addrs)
      if (record.peerId === this.opts.selfId) {
        this.opts.onSelf(record)
        continue
      }
      if (!this.opts.follows(record.name)) continue
      const { outcome, change } = this.opts.catalog.apply(record, authority, now, this.opts.selfId)
      if (outcome === 'applied' && change !== undefined) { this.counters.applied++; changes.push(change) }
      else if (outcome === 'duplicate') this.counters.duplicates++
      else if (outcome === 'stale') this.counters.stale++
    }
    if (changes.length > 0) this.opts.onChanges(changes)
  }
}
