import type { Etcd3, Lease } from 'etcd3'
import type { Logger } from '../../../node/logger.js'

/** Who probes a peer: `gds/probe/<peer id>` → the registry's peer id, on that registry's lease. */
export const OWNER_PREFIX = 'gds/probe/'
/**
 * Seconds a dead registry's claims outlive it. Its services fail over within a second and
 * re-register (claiming themselves for their new registry); what is left is taken over after
 * this, then probed: within the normal detection targets plus this.
 */
export const LEASE_TTL_S = 3

/**
 * Ownership of probing among registries sharing a catalogue: the registry holding a service's
 * stream claims it; when that registry dies its lease expires, its claims vanish, and a
 * survivor takes each over with a create-only transaction (one winner) and probes it. A
 * service that re-registers elsewhere is claimed by its new registry, and the old owner lets go.
 */
export class EtcdOwners {
  private lease?: Lease
  private leasing?: Promise<string>
  private readonly mine = new Set<string>()
  private stopped = false

  constructor (private readonly client: Etcd3, private readonly self: string, private readonly log: Logger,
    private readonly on: { takenOver: (peerId: string) => void, disowned: (peerId: string) => void, isLive: (peerId: string) => boolean }) {}

  /** Whether `peerId` is probed by this registry by claim. */
  owns (peerId: string): boolean { return this.mine.has(peerId) }

  /** This registry holds the peer's stream: it probes it, whoever did before. */
  claim (peerId: string): void {
    this.mine.add(peerId)
    void this.withLease(async id => { await this.client.put(OWNER_PREFIX + peerId).value(this.self).lease(id) })
  }

  /** The peer left or was reaped: nothing to probe, nothing to hand over. */
  release (peerId: string): void {
    if (!this.mine.delete(peerId)) return
    void this.withLease(async () => {
      await this.client.if(OWNER_PREFIX + peerId, 'Value', '==', this.self).then(this.client.delete().key(OWNER_PREFIX + peerId)).commit()
    })
  }

  /** Of `peers` (the catalogue at start), the ones nobody claims: this registry takes them. */
  async adoptUnowned (peers: readonly string[]): Promise<string[]> {
    const out: string[] = []
    for (const p of peers) if (await this.tryTakeOver(p)) out.push(p)
    return out
  }

  /** A watch event under OWNER_PREFIX. */
  onEvent (kind: 'put' | 'delete', key: string, value: string): void {
    const peerId = key.slice(OWNER_PREFIX.length)
    if (kind === 'put') {
      if (value !== this.self && this.mine.delete(peerId)) this.on.disowned(peerId)
      return
    }
    // A claim vanished (its registry's lease expired, or it let go): a live entry needs a prober.
    if (!this.stopped && this.on.isLive(peerId)) {
      void this.tryTakeOver(peerId).then(won => { if (won) this.on.takenOver(peerId) })
    }
  }

  /** After an outage the lease may be gone: claim everything again on a fresh one. */
  reclaim (): void {
    for (const p of this.mine) this.claim(p)
  }

  async stop (): Promise<void> {
    this.stopped = true
    // Revoked, the claims vanish at once: survivors take over without waiting for the TTL.
    await this.lease?.revoke().catch(() => {})
  }

  private async tryTakeOver (peerId: string): Promise<boolean> {
    let won = false
    await this.withLease(async id => {
      const res = await this.client.if(OWNER_PREFIX + peerId, 'Create', '==', 0).then(this.client.put(OWNER_PREFIX + peerId).value(this.self).lease(id)).commit()
      won = res.succeeded
    })
    if (won) this.mine.add(peerId)
    return won
  }

  private async withLease (fn: (leaseId: string) => Promise<void>): Promise<void> {
    if (this.stopped) return
    try {
      await fn(await this.leaseIdNow())
    } catch (err: any) {
      // etcd is away: the store reports it; `reclaim` runs when it answers again.
      this.log.debug({ err: err?.message }, 'etcd: a probe claim was not written')
    }
  }

  /** One lease at a time, granted once however many claims ask for it together. */
  private async leaseIdNow (): Promise<string> {
    if (this.leasing !== undefined) return this.leasing
    const lease = this.client.lease(LEASE_TTL_S)
    this.lease = lease
    lease.on('lost', err => {
      this.log.warn({ err: err?.message }, 'etcd: this registry\'s lease was lost; its probe claims are renewed when etcd answers')
      if (this.lease === lease) { this.lease = undefined; this.leasing = undefined }
    })
    this.leasing = lease.grant()
    this.leasing.catch(() => { if (this.lease === lease) { this.lease = undefined; this.leasing = undefined } })
    return this.leasing
  }
}
