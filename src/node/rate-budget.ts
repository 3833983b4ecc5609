/**
 * A token bucket per peer: each peer may spend `burst` at once and earns `perSecond` back,
 * up to `burst`. Pure: time is an argument. At most `maxPeers` buckets are kept; the least
 * recently seen is forgotten first (it comes back with a full bucket, which is what a quiet
 * peer would have anyway).
 */
export interface BudgetOptions {
  burst: number
  perSecond: number
  maxPeers: number
}

interface Bucket { tokens: number, at: number }

export class PeerBudget {
  private readonly buckets = new Map<string, Bucket>()

  constructor (private readonly opts: BudgetOptions) {
    if (!(opts.burst >= 1) || !(opts.perSecond > 0) || !(opts.maxPeers >= 1)) throw new RangeError('a budget needs burst >= 1, perSecond > 0 and maxPeers >= 1')
  }

  /** Spends one token of `peer`'s at `now` (epoch ms); false if it has none left. */
  take (peer: string, now: number): boolean {
    const { burst, perSecond, maxPeers } = this.opts
    let b = this.buckets.get(peer)
    if (b === undefined) {
      b = { tokens: burst, at: now }
    } else {
      // A clock that goes back earns nothing (and costs nothing).
      b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.at) * perSecond / 1000)
      b.at = Math.max(b.at, now)
      this.buckets.delete(peer)
    }
    this.buckets.set(peer, b)
    if (this.buckets.size > maxPeers) this.buckets.delete(this.buckets.keys().next().value as string)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  get size (): number { return this.buckets.size }
}
