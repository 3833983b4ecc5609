import { compareVersion } from './catalog.js'
import { RecentMap } from './recent-map.js'

/**
 * Failure verdicts among peers while no registry is in reach (DESIGN.md §4, last bullet). Pure:
 * no I/O, time passed in; src/node/peer-watch.ts does the checks and gossip around it.
 *
 * The rule: a peer is `down` here only with this node's OWN failed direct check of it AND the
 * failures of at least `quorum` OTHER members (answers to an indirect check, or suspicions
 * gossiped), all about the same version (incarnation, seq) of it and none older than
 * `evidenceTtlMs`. One peer's word never suffices, however often it is said: accusers are
 * counted once each. Any member that reaches it (an indirect check answered `reachable`), or
 * our own check succeeding, clears our failure: a later verdict needs a new failed check.
 * A newer version (the owner refuting, or re-registering) starts the case afresh.
 */

export interface Version { incarnation: number, seq: number }

export interface VerdictPolicy {
  /** Distinct other members whose failure must confirm ours. */
  quorum: number
  /** How long a failed check (ours or another's) counts. */
  evidenceTtlMs: number
}

/**
 * `down`: the rule is met by this very piece of evidence (declare it now); `noted`: counted,
 * not enough yet; `known`: already declared at this version; `stale`: about an older version
 * than the case (the owner has spoken since), or a newer one than we know (we lag), ignored.
 */
export type Outcome = 'down' | 'noted' | 'known' | 'stale'

interface Case {
  version: Version
  /** When our own direct check last failed; undefined: it has not, or something cleared it. */
  ownFailedAt?: number
  /** Other members that found it unreachable, and when (the latest). */
  accusers: Map<string, number>
  /** Of those, the ones that said so on gossip (others see them too: no need to add ours). */
  gossiped: Set<string>
  declared: boolean
}

/** Cases kept at most: beyond it the oldest is forgotten (a flood of accusations about many peers). */
const MAX_CASES = 4_096

export class PeerVerdicts {
  private readonly cases = new RecentMap<string, Case>(MAX_CASES)

  constructor (private readonly policy: VerdictPolicy) {
    if (!Number.isInteger(policy.quorum) || policy.quorum < 1) throw new RangeError('a verdict needs a quorum of at least one other member')
  }

  /** Our own direct check of `peerId` at `version` (the version this node holds of it). */
  ownCheck (peerId: string, version: Version, ok: boolean, now: number): Outcome {
    const c = this.caseFor(peerId, version)
    if (c === undefined) return 'stale'
    if (ok) {
      c.ownFailedAt = undefined
      return c.declared ? 'known' : 'noted'
    }
    c.ownFailedAt = now
    return this.decide(c, now)
  }

  /**
   * Another member says it could not reach `peerId` at `named`: an indirect check's answer, or
   * (`gossiped`) a suspicion on the catalogue topic. It counts only about the version this node
   * holds (`held`): an older one was refuted since, a newer one we cannot judge yet. The caller
   * has checked that `accuser` is a member.
   */
  accused (peerId: string, named: Version, held: Version, accuser: string, now: number, gossiped = false): Outcome {
    if (accuser === peerId || compareVersion(named, held) !== 0) return 'stale'
    const c = this.caseFor(peerId, held)
    if (c === undefined) return 'stale'
    c.accusers.set(accuser, now)
    if (gossiped) c.gossiped.add(accuser)
    return this.decide(c, now)
  }

  /** A member reached `peerId` (an indirect check said `reachable`): our failure no longer counts. */
  vouched (peerId: string, version: Version): void {
    const c = this.cases.get(peerId)
    if (c !== undefined && compareVersion(c.version, version) === 0) c.ownFailedAt = undefined
  }

  /** Whether `peerId` at `version` was declared down here. */
  declared (peerId: string, version: Version): boolean {
    const c = this.cases.get(peerId)
    return c !== undefined && c.declared && compareVersion(c.version, version) === 0
  }

  /** Peers declared down here (at the version of their case). */
  declaredPeers (): string[] {
    return [...this.cases].filter(([, c]) => c.declared).map(([p]) => p)
  }

  /** Distinct others whose suspicion of `peerId` at `version` went out on gossip and still counts. */
  gossipedAccusers (peerId: string, version: Version, now: number): number {
    const c = this.cases.get(peerId)
    if (c === undefined || compareVersion(c.version, version) !== 0) return 0
    let n = 0
    for (const a of c.gossiped) if (this.fresh(c.accusers.get(a), now)) n++
    return n
  }

  /** Forget every case (the registry is back and decides again). */
  clear (): void {
    this.cases.clear()
  }

  get size (): number { return this.cases.size }

  /** The case for `version`: a newer version than the case's starts a new one; an older one has none. */
  private caseFor (peerId: string, version: Version): Case | undefined {
    const c = this.cases.get(peerId)
    if (c !== undefined) {
      const cmp = compareVersion(version, c.version)
      if (cmp === 0) return c
      if (cmp < 0) return undefined
    }
    const fresh: Case = { version: { incarnation: version.incarnation, seq: version.seq }, accusers: new Map(), gossiped: new Set(), declared: false }
    this.cases.set(peerId, fresh)
    return fresh
  }

  private decide (c: Case, now: number): Outcome {
    if (c.declared) return 'known'
    if (!this.fresh(c.ownFailedAt, now)) return 'noted'
    let others = 0
    for (const at of c.accusers.values()) if (this.fresh(at, now)) others++
    if (others < this.policy.quorum) return 'noted'
    c.declared = true
    return 'down'
  }

  private fresh (at: number | undefined, now: number): boolean {
    return at !== undefined && now - at <= this.policy.evidenceTtlMs
  }
}
