import { DEFAULT_MAX_ENTRIES } from './config.js'
import { CatalogFullError, RegistrationRejectedError, TooManyNamesError } from './errors.js'
import { MAX_NAMES_PER_PEER } from './protocols.js'
import { MAX_VERSION, type ProviderRecord, type Registration } from './schemas.js'

/**
 * The provider table and its merge rule. No I/O and no clock: time is an argument, so every
 * rule is tested in microseconds. One instance lives on every node (the registry's is the
 * authoritative one; every other node's holds every record it hears, bounded by the caps).
 *
 * Versions: each entry is keyed by (name, peerId) and carries `incarnation` (bumped at every
 * process start by its owner) and `seq` (bumped by the owner or the registry at each change).
 * A higher (incarnation, seq) wins; an equal one is a duplicate and applies once, whichever
 * path (hub or gossip) brought it.
 */

export type Status = ProviderRecord['status']

/**
 * Who vouches for an update: the pinned registry, the entry's owner, some other peer, or
 * `peers`: this node's own verdict with other members' confirmation (src/node/peer-verdicts.ts),
 * made while no registry is in reach.
 */
export type Authority = 'registry' | 'owner' | 'peer' | 'peers'

/** `full`: a new entry the catalogue has no room for (the caps below), dropped. */
export type ApplyOutcome = 'applied' | 'stale' | 'duplicate' | 'rejected' | 'refute' | 'full'

export interface CatalogLimits {
  /** Entries in total, any status; a new one beyond it is refused. @default DEFAULT_MAX_ENTRIES */
  maxEntries?: number
  /** Names one peer may hold, over all its registrations, any status. @default MAX_NAMES_PER_PEER */
  maxNamesPerPeer?: number
  /**
   * The names a member requires (follow.ts): their entries are counted apart, under a cap of
   * their own (maxEntries), so a table filled with the rest of the cluster never drops a provider
   * this node calls. A registry passes none: one cap for its whole table.
   */
  keeps?: (name: string) => boolean
}

/** A change to one entry; `previous` is undefined for a new entry; `removed` for a reaped one. */
export interface Change {
  record: ProviderRecord
  previous?: Status
  removed?: true
}

export function entryKey (name: string, peerId: string): string {
  return `${name}\u0000${peerId}`
}

/** -1, 0 or 1 as version a is older than, equal to or newer than version b. */
export function compareVersion (a: { incarnation: number, seq: number }, b: { incarnation: number, seq: number }): -1 | 0 | 1 {
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1
  return 0
}

/** A provider that can take calls: up, or suspect (one missed beat) as a last resort. */
export function isAvailable (r: ProviderRecord): boolean {
  return r.status === 'up' || r.status === 'suspect'
}

export class Catalog {
  private readonly entries = new Map<string, ProviderRecord>()
  /** When each entry's status last changed (local bookkeeping for reaping; not on the wire). */
  private readonly since = new Map<string, number>()
  private readonly byName = new Map<string, Set<string>>()
  private readonly byPeer = new Map<string, Set<string>>()
  /** name → keys of entries that require it, so a change finds its dependents without a scan. */
  private readonly byRequired = new Map<string, Set<string>>()
  readonly maxEntries: number
  readonly maxNamesPerPeer: number
  private readonly keeps?: (name: string) => boolean
  /** Entries of names `keeps` holds to. */
  private kept = 0
  /** When an entry was last added, changed or removed (`now` of that call); 0: never. */
  private changed = 0

  constructor (limits: CatalogLimits = {}) {
    this.maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES
    this.maxNamesPerPeer = limits.maxNamesPerPeer ?? MAX_NAMES_PER_PEER
    this.keeps = limits.keeps
  }

  get size (): number { return this.entries.size }

  /** When the table last changed (an entry added, changed or removed); 0 if it never did. */
  get changedAt (): number { return this.changed }

  /** Every name with at least one entry. */
  names (): string[] {
    return [...this.byName.keys()]
  }

  get (name: string, peerId: string): ProviderRecord | undefined {
    return this.entries.get(entryKey(name, peerId))
  }

  all (): ProviderRecord[] {
    return [...this.entries.values()]
  }

  /** Every entry of a name, any status. */
  providersOf (name: string): ProviderRecord[] {
    return this.collect(this.byName.get(name))
  }

  /** Every entry a peer owns. */
  ofPeer (peerId: string): ProviderRecord[] {
    return this.collect(this.byPeer.get(peerId))
  }

  peers (): string[] {
    return [...this.byPeer.keys()]
  }

  /** Peers that have an entry requiring `name` (they are told when its providers change). */
  dependentsOf (name: string): Set<string> {
    const out = new Set<string>()
    for (const r of this.collect(this.byRequired.get(name))) {
      if (r.status !== 'leaving') out.add(r.peerId)
    }
    return out
  }

  /**
   * Throws RegistrationRejectedError if `register` would refuse `reg`, changing nothing: a
   * request of several names is checked whole before any of it is applied.
   */
  check (peerId: string, reg: Registration): void {
    for (const k of ['incarnation', 'seq'] as const) {
      if (!Number.isSafeInteger(reg[k]) || reg[k] < 0 || reg[k] > MAX_VERSION) {
        throw new RegistrationRejectedError(`registration of "${reg.name}": ${k} ${reg[k]} is out of range (a whole number from 0 to ${MAX_VERSION})`)
      }
    }
    const existing = this.get(reg.name, peerId)
    if (existing !== undefined && reg.incarnation < existing.incarnation) {
      throw new RegistrationRejectedError(`stale registration of "${reg.name}": incarnation ${reg.incarnation} is older than the registered ${existing.incarnation} (is another process using the same key?)`)
    }
  }

  /**
   * Throws TooManyNamesError or CatalogFullError if registering `names` (one request, checked
   * whole) would take `peerId` past its names or the catalogue past its entries; changes
   * nothing. Entries of any status count: `down` and `leaving` ones free their room when reaped,
   * so a peer cycling names cannot grow the table within the grace period.
   */
  checkRoom (peerId: string, names: readonly string[]): void {
    const fresh = new Set(names.filter(n => this.get(n, peerId) === undefined))
    if (fresh.size === 0) return
    const held = this.byPeer.get(peerId)?.size ?? 0
    if (held + fresh.size > this.maxNamesPerPeer) throw new TooManyNamesError(peerId, this.maxNamesPerPeer, held + fresh.size)
    if (this.entries.size + fresh.size > this.maxEntries) throw new CatalogFullError(this.maxEntries)
  }

  /**
   * The registry's side of a registration by `peerId` (taken from the authenticated connection).
   * Idempotent: registering the same thing again changes nothing. A re-registration is the owner
   * vouching for itself, so it brings the entry back `up` whatever the registry had declared,
   * with a seq above both its own and the registry's. `http` marks an entry of the Go
   * registry's HTTP API (src/services/registry/http-compat), which has a URL and no libp2p peer.
   */
  register (peerId: string, reg: Registration, now: number, http?: { url: string }): { record: ProviderRecord, changed: boolean, previous?: Status } {
    this.check(peerId, reg)
    this.checkRoom(peerId, [reg.name])
    const existing = this.get(reg.name, peerId)
    const sameBody = existing !== undefined && existing.incarnation === reg.incarnation && existing.status === 'up' &&
      sameList(existing.addrs, reg.addrs) && sameList(existing.requires, reg.requires) &&
      existing.version === reg.version && JSON.stringify(existing.meta) === JSON.stringify(reg.meta)
    if (existing !== undefined && sameBody && reg.seq <= existing.seq) {
      const touched = { ...existing, lastSeen: now }
      this.put(touched, now)
      return { record: touched, changed: false, previous: existing.status }
    }
    let seq = reg.seq
    if (existing !== undefined && existing.incarnation === reg.incarnation) seq = Math.max(reg.seq, bump(existing.seq))
    const record: ProviderRecord = {
      name: reg.name,
      peerId,
      addrs: [...reg.addrs],
      requires: [...reg.requires],
      version: reg.version,
      meta: { ...reg.meta },
      incarnation: reg.incarnation,
      seq,
      status: 'up',
      reason: 'registered',
      lastSeen: now,
      ...(existing?.rttMs === undefined ? {} : { rttMs: existing.rttMs }),
      ...(existing?.load === undefined ? {} : { load: existing.load }),
      ...(http === undefined ? {} : { transport: 'http' as const, url: http.url })
    }
    this.put(record, now, existing?.status)
    return { record, changed: true, previous: existing?.status }
  }

  /**
   * The registry declares a status for every entry of a peer (from its heartbeats). Each entry
   * whose status differs gets seq + 1. Returns the changes.
   */
  setPeerStatus (peerId: string, status: Status, reason: string, now: number): Change[] {
    const changes: Change[] = []
    for (const r of this.ofPeer(peerId)) {
      if (r.status === status || r.status === 'leaving') continue
      const record: ProviderRecord = { ...r, status, reason, seq: bump(r.seq), ...(status === 'up' ? { lastSeen: now } : {}) }
      this.put(record, now, r.status)
      changes.push({ record, previous: r.status })
    }
    return changes
  }

  /** Graceful leave: the owner's entries become `leaving` (reaped like `down` ones). */
  deregister (peerId: string, names: readonly string[], now: number): Change[] {
    const changes: Change[] = []
    for (const name of names) {
      const r = this.get(name, peerId)
      if (r === undefined || r.status === 'leaving') continue
      const record: ProviderRecord = { ...r, status: 'leaving', reason: 'deregistered', seq: bump(r.seq) }
      this.put(record, now, r.status)
      changes.push({ record, previous: r.status })
    }
    return changes
  }

  /**
   * Liveness figures from a heartbeat: not a change of version, never patched. Updated in place,
   * unlike every versioned field: the registry takes one per provider per second, and a copy
   * of the record each time was a tenth of its heartbeat cost. A holder of an older reference
   * sees fresher figures, which is all they are. A pushed beat has no round trip: rttMs stays.
   */
  observe (peerId: string, figures: { rttMs?: number, load: number }, now: number): void {
    for (const key of this.byPeer.get(peerId) ?? []) {
      const r = this.entries.get(key)
      if (r === undefined) continue
      if (figures.rttMs !== undefined) r.rttMs = figures.rttMs
      r.load = figures.load
      r.lastSeen = now
    }
  }

  /**
   * The merge rule for a record that arrived from elsewhere (a patch, an announcement).
   * Guard clauses in memberlist's style:
   * - only the registry may speak about another peer; an owner may only say `up` or `leaving`;
   * - a record accusing this very node (`selfId`) of being down is refuted, not applied;
   * - an older version is stale, an equal one a duplicate: neither changes anything;
   * - a new entry beyond the caps is dropped (`full`): gossip must not grow a node without bound.
   */
  apply (record: ProviderRecord, authority: Authority, now: number, selfId?: string): { outcome: ApplyOutcome, change?: Change } {
    if (authority === 'peer') return { outcome: 'rejected' }
    if (authority === 'peers') return this.applyPeerVerdict(record, now)
    if (authority === 'owner' && record.status !== 'up' && record.status !== 'leaving') return { outcome: 'rejected' }
    if (selfId !== undefined && record.peerId === selfId && (record.status === 'down' || record.status === 'suspect')) {
      return { outcome: 'refute' }
    }
    const existing = this.get(record.name, record.peerId)
    if (existing !== undefined) {
      const cmp = compareVersion(record, existing)
      if (cmp < 0) return { outcome: 'stale' }
      if (cmp === 0) return { outcome: 'duplicate' }
    } else if (!this.hasRoom(record)) return { outcome: 'full' }
    this.put(record, now, existing?.status)
    return { outcome: 'applied', change: { record, previous: existing?.status } }
  }

  /**
   * The peers' `down` (a local verdict): only about an entry held `up` or `suspect`, at the very
   * version held, and it keeps that version, so the owner's refutation (seq + 1) or a registry
   * record at a higher version overrides it, and one at the same version is a duplicate.
   */
  private applyPeerVerdict (record: ProviderRecord, now: number): { outcome: ApplyOutcome, change?: Change } {
    const existing = this.get(record.name, record.peerId)
    if (record.status !== 'down' || existing === undefined) return { outcome: 'rejected' }
    const cmp = compareVersion(record, existing)
    if (cmp < 0) return { outcome: 'stale' }
    if (cmp > 0) return { outcome: 'rejected' }
    if (!isAvailable(existing)) return { outcome: 'duplicate' }
    this.put(record, now, existing.status)
    return { outcome: 'applied', change: { record, previous: existing.status } }
  }

  /**
   * Replace what this table knows of `names` with the registry's snapshot (the answer to a
   * register). Versions are not compared: the snapshot is the registry's answer to our own
   * request, so it is current by construction, and a registry that lost its data must not be
   * out-voted by the higher seqs we remember.
   */
  resync (names: readonly string[], records: readonly ProviderRecord[], now: number): Change[] {
    const changes: Change[] = []
    const incoming = new Set(records.map(r => entryKey(r.name, r.peerId)))
    for (const name of names) {
      for (const r of this.providersOf(name)) {
        if (incoming.has(entryKey(r.name, r.peerId))) continue
        this.remove(r, now)
        changes.push({ record: r, previous: r.status, removed: true })
      }
    }
    for (const record of records) {
      const existing = this.get(record.name, record.peerId)
      if (existing !== undefined && compareVersion(existing, record) === 0) {
        // The same version `up` does not undo a `down` (the peers' verdict while the registry was
        // away): the registry probes the peer and decides at a higher version, without a flap.
        if (existing.status === record.status || (existing.status === 'down' && record.status === 'up')) continue
      }
      if (existing === undefined && !this.hasRoom(record)) continue
      this.put(record, now, existing?.status)
      changes.push({ record, previous: existing?.status })
    }
    return changes
  }

  /** Removes `down` and `leaving` entries whose status is older than the grace period. */
  reap (now: number, graceMs: number): Change[] {
    const removed: Change[] = []
    for (const [key, r] of this.entries) {
      if (r.status !== 'down' && r.status !== 'leaving') continue
      if ((this.since.get(key) ?? now) + graceMs > now) continue
      this.remove(r, now)
      removed.push({ record: r, previous: r.status, removed: true })
    }
    return removed
  }

  /**
   * Loads persisted records (a registry restart); each counts as changed at `now`. Records past
   * the caps (a restart with a lower --max-entries) are left out; returns how many.
   */
  load (records: readonly ProviderRecord[], now: number): number {
    let dropped = 0
    for (const r of records) {
      if (this.get(r.name, r.peerId) === undefined && !this.hasRoom(r)) dropped++
      else this.put(r, now)
    }
    return dropped
  }

  /** Whether a new entry for `r` fits under the caps: its peer's, and its side's (kept or the rest). */
  private hasRoom (r: ProviderRecord): boolean {
    if ((this.byPeer.get(r.peerId)?.size ?? 0) >= this.maxNamesPerPeer) return false
    return this.keeps?.(r.name) === true ? this.kept < this.maxEntries : this.entries.size - this.kept < this.maxEntries
  }

  private put (record: ProviderRecord, now: number, previous?: Status): void {
    const key = entryKey(record.name, record.peerId)
    const had = this.entries.get(key)
    this.changed = now
    if (had === undefined || previous !== record.status || !this.since.has(key)) this.since.set(key, now)
    for (const n of had?.requires ?? []) unindex(this.byRequired, n, key)
    for (const n of record.requires) index(this.byRequired, n, key)
    if (had === undefined && this.keeps?.(record.name) === true) this.kept++
    this.entries.set(key, record)
    index(this.byName, record.name, key)
    index(this.byPeer, record.peerId, key)
  }

  private remove (record: ProviderRecord, now: number): void {
    const key = entryKey(record.name, record.peerId)
    this.changed = now
    if (this.entries.delete(key) && this.keeps?.(record.name) === true) this.kept--
    this.since.delete(key)
    for (const n of record.requires) unindex(this.byRequired, n, key)
    unindex(this.byName, record.name, key)
    unindex(this.byPeer, record.peerId, key)
  }

  private collect (keys: Set<string> | undefined): ProviderRecord[] {
    const out: ProviderRecord[] = []
    for (const k of keys ?? []) {
      const r = this.entries.get(k)
      if (r !== undefined) out.push(r)
    }
    return out
  }
}

function index (m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k)
  if (s === undefined) { s = new Set(); m.set(k, s) }
  s.add(v)
}

function unindex (m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k)
  if (s === undefined) return
  s.delete(v)
  if (s.size === 0) m.delete(k)
}

/**
 * The next seq, saturating at the records' ceiling: a record past it would fail the schema
 * everywhere (status, patches, the persisted file). Registrations stop at MAX_VERSION, so a
 * saturated bump takes 2^52 changes to reach.
 */
export function bump (seq: number): number {
  return Math.min(seq + 1, Number.MAX_SAFE_INTEGER)
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
