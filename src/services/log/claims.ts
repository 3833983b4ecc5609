import { RegistryUnreachableError } from '../../node/errors.js'
import { RecentMap } from '../../node/recent-map.js'

/** Who provides what, as the registry says (a ServiceContext fits). */
export interface Directory {
  lookup: (name: string) => Promise<ReadonlyArray<{ peerId: string }>>
  registryId: () => string | undefined
}

/** A name a peer was seen to provide is trusted this long before it is asked again. */
const KNOWN_MS = 30_000
/** A name a peer was not seen to provide is asked again after this long (it may just have registered). */
const UNKNOWN_MS = 1_000
/** Names remembered at once (the oldest answers are forgotten first). */
const MAX_NAMES = 1_024

/**
 * Whether a peer provides the service name its log entries claim, by the registry's catalogue:
 * the registry itself logs as `registry`, every other peer under a name it is registered for.
 * Answers are cached (time passed in); a miss asks again at most once a second per name.
 */
export class ServiceClaims {
  private readonly known = new RecentMap<string, { at: number, peers: Set<string> }>(MAX_NAMES)

  constructor (private readonly dir: Directory, private readonly now: () => number) {}

  /** Rejects with RegistryUnreachableError (retryable) when the registry cannot say. */
  async provides (peerId: string, name: string): Promise<boolean> {
    if (name === 'registry') {
      const registry = this.dir.registryId()
      if (registry === undefined) throw new RegistryUnreachableError('this log service has not reached the registry yet, so it cannot check who is the registry; send again later')
      return peerId === registry
    }
    const now = this.now()
    const cached = this.known.get(name)
    if (cached !== undefined) {
      const has = cached.peers.has(peerId)
      if (now - cached.at < (has ? KNOWN_MS : UNKNOWN_MS)) return has
    }
    let providers: ReadonlyArray<{ peerId: string }>
    try {
      providers = await this.dir.lookup(name)
    } catch (err: any) {
      if (cached?.peers.has(peerId) === true) return true
      throw new RegistryUnreachableError(`cannot check who provides "${name}" (the registry did not answer: ${err?.message ?? err}); send again later`, { cause: err })
    }
    const peers = new Set(providers.map(p => p.peerId))
    this.known.set(name, { at: now, peers })
    return peers.has(peerId)
  }
}
