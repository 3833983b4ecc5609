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
  /** Who probes each peer (every registry's claims, as the watch shows them): for listings. */
  private readonly probers = new Map<string, string>()
  /** Peers whose claim the watch (or this registry) has changed since it began: `learn` leaves them be. */
  private readonly heard = new Set<string>()
  /** Our claims that vanished (our lease ended), claimed again together. */
  private readonly vanished = new Set<string>()
  private reclaiming?: NodeJS.Immediate
  private stopped = false

  constructor (private readonly client: Etcd3, private readonly self: string, private readonly log: Logger,
    private readonly on: { takenOver: (peerId: string) => void, disowned: (peerId: string) => void, isLive: (peerId: string) => boolean }) {}

  /** Whether `peerId` is probed by this registry by claim. */
  owns (peerId: string): boolean { return this.mine.has(peerId) }

  /** The registry that probes `peerId`, if etcd says. */
  prober (peerId: string): string | undefined { return this.probers.get(peerId) }

  /** The claims stored when the watch began (key → registry id). */
  learn (kvs: Record<string, string>): void {
    for (const [key, registry] of Object.entries(kvs)) {
      const peerId = key.slice(OWNER_PREFIX.length)
      if (!this.heard.has(peerId)) this.probers.set(peerId, registry)
    }
  }

  private noteProber (peerId: string, registry: string | undefined): void {
    this.heard.add(peerId)
    if (registry === undefined) this.probers.delete(peerId)
    else this.probers.set(peerId, registry)
  }

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
    this.noteProber(peerId, kind === 'put' ? value : undefined)
    if (kind === 'put') {
      if (value !== this.self) {
        if (this.mine.delete(peerId)) this.on.disowned(peerId)
      } else if (!this.mine.has(peerId) && !this.stopped && this.on.isLive(peerId)) {
        // What etcd holds last decides who probes: ours again (claimed back after a takeover).
        this.mine.add(peerId)
        this.on.takenOver(peerId)
      }
      return
    }
    if (this.stopped) return
    if (this.mine.has(peerId)) {
      // Our own claim vanished, so our lease ended (a release takes the peer out of `mine` first):
      // a keepalive late on a busy machine, etcd still answering. We hold the peer's stream and
      // probe it: claim it again, or a survivor takes it over and probes it by a fresh dial.
      this.vanished.add(peerId)
      this.reclaiming ??= setImmediate(() => { void this.claimVanished() })
      return
    }
    // Another registry's claim vanished (its lease expired, or it let go): a live entry needs a prober.
    if (this.on.isLive(peerId)) {
      void this.tryTakeOver(peerId).then(won => { if (won) this.on.takenOver(peerId) })
    }
  }

  /** After an outage the lease may be gone: claim everything again on a fresh one. */
  reclaim (): void {
    for (const p of this.mine) this.claim(p)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearImmediate(this.reclaiming)
    // Revoked, the claims vanish at once: survivors take over without waiting for the TTL.
    await this.lease?.revoke().catch(() => {})
  }

  /** On a fresh lease unless ours still lives (the claims vanished together: one check for all). */
  private async claimVanished (): Promise<void> {
    this.reclaiming = undefined
    const peers = [...this.vanished]
    this.vanished.clear()
    if (!await this.leaseAlive()) {
      this.lease?.release()
      this.lease = undefined
      this.leasing = undefined
    }
    for (const p of peers) {
      if (!this.on.isLive(p)) continue
      // A survivor's takeover may have made us let go meanwhile: probe it again.
      const disowned = !this.mine.has(p)
      this.claim(p)
      if (disowned) this.on.takenOver(p)
    }
  }

  private async leaseAlive (): Promise<boolean> {
    try {
      const id = await this.leasing
      if (id === undefined) return false
      return Number((await this.client.leaseClient.leaseTimeToLive({ ID: id })).TTL) > 0
    } catch {
      return false
    }
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
