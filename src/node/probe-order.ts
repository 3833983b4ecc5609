import type { Catalog } from './catalog.js'
import { shuffle } from './mesh.js'

/**
 * Which member to probe next (SWIM's probe selection, memberlist's order): round-robin over the
 * members shuffled, shuffled again at each round's end, so every member is probed once a round
 * by each node and the rounds of different nodes do not line up. A member that joins mid-round
 * goes in at a random place among those not probed yet (it is probed this round, not at once);
 * one that left is skipped. Pure: the members and the randomness are passed in.
 */
export class ProbeOrder {
  private order: string[] = []
  private placed = new Set<string>()
  private index = 0

  constructor (private readonly random: () => number = Math.random) {}

  /** The member to probe now, or undefined when there is none. */
  next (members: ReadonlySet<string>): string | undefined {
    if (members.size === 0) return undefined
    for (const m of members) {
      if (this.placed.has(m)) continue
      const at = this.index + Math.floor(this.random() * (this.order.length - this.index + 1))
      this.order.splice(at, 0, m)
      this.placed.add(m)
    }
    // Every member is placed, so within two passes one of them comes up.
    for (let tries = 0; tries < 2 * this.order.length + 1; tries++) {
      if (this.index >= this.order.length) this.reshuffle(members)
      const m = this.order[this.index++]
      if (members.has(m)) return m
    }
    return undefined
  }

  /** A new round: the members that left are let go, the rest shuffled. */
  private reshuffle (members: ReadonlySet<string>): void {
    this.order = this.order.filter(m => members.has(m))
    this.placed = new Set(this.order)
    shuffle(this.order, this.random)
    this.index = 0
  }
}

/**
 * The providers of `required` names a dependent checks this beat besides SWIM's one member:
 * each with probability checksPerBeat / (its dependents), so all its dependents together check
 * it about checksPerBeat times a beat, whatever their number. One member a beat alone finds a
 * hang only when some neighbour's round comes to it (SIGSTOP → told beyond 3 s in a quarter of
 * the trials at 10 nodes); a probe per dependent each beat cost O(N × providers).
 */
export function providersToCheck (
  required: Iterable<string>,
  catalog: Pick<Catalog, 'dependentsOf' | 'providersOf'>,
  isMember: (peerId: string) => boolean,
  checksPerBeat: number,
  random: () => number
): string[] {
  const out: string[] = []
  for (const name of required) {
    const share = checksPerBeat / Math.max(1, catalog.dependentsOf(name).size)
    for (const r of catalog.providersOf(name)) if (isMember(r.peerId) && random() < share) out.push(r.peerId)
  }
  return out
}
