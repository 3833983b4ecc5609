/**
 * A token bucket per peer, pure (time is passed in): each peer may spend `ratePerSec` a second
 * on average and `burst` at once. The log service charges a batch's bytes (one peer cannot hog
 * the log node's disk and fsyncs however fast it sends); gossip charges one per message.
 */
export interface BucketOptions {
  ratePerSec: number
  burst: number
  /** Buckets kept; past it the fullest (idle longest) is forgotten, which costs nothing: it was full. */
  maxPeers: number
}

interface Bucket { tokens: number, at: number }

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()

  constructor (private readonly opts: BucketOptions) {
    if (!(opts.burst > 0) || !(opts.ratePerSec > 0) || !(opts.maxPeers >= 1)) throw new RangeError('token buckets need burst > 0, ratePerSec > 0 and maxPeers >= 1')
  }

  /**
   * Spends `cost` from `peer`'s bucket: 0 when granted, else how many ms until it would be (and
   * nothing is spent). A cost above the burst is charged as the whole burst, so it can pass.
   */
  take (peer: string, cost: number, now: number): number {
    const b = this.refill(peer, now)
    const charge = Math.min(cost, this.opts.burst)
    if (charge <= b.tokens) {
      b.tokens -= charge
      return 0
    }
    return Math.max(1, Math.ceil((charge - b.tokens) / this.opts.ratePerSec * 1000))
  }

  private refill (peer: string, now: number): Bucket {
    let b = this.buckets.get(peer)
    if (b === undefined) {
      if (this.buckets.size >= this.opts.maxPeers) this.forgetOne(now)
      b = { tokens: this.opts.burst, at: now }
      this.buckets.set(peer, b)
    }
    // A clock that steps back refills nothing rather than draining.
    const elapsed = Math.max(0, now - b.at)
    b.tokens = Math.min(this.opts.burst, b.tokens + elapsed * this.opts.ratePerSec / 1000)
    b.at = Math.max(b.at, now)
    return b
  }

  get size (): number { return this.buckets.size }

  private forgetOne (now: number): void {
    let best: string | undefined
    let bestTokens = -1
    for (const [peer, b] of this.buckets) {
      const tokens = Math.min(this.opts.burst, b.tokens + Math.max(0, now - b.at) * this.opts.ratePerSec / 1000)
      if (tokens > bestTokens) { best = peer; bestTokens = tokens }
    }
    if (best !== undefined) this.buckets.delete(best)
  }
}
