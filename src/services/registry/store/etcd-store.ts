import type { Etcd3, IKeyValue, Watcher } from 'etcd3'
import { compareVersion, entryKey, type Change } from '../../../node/catalog.js'
import type { NodeEvent } from '../../../node/events.js'
import type { Logger } from '../../../node/logger.js'
import { providerRecord, type ProviderRecord } from '../../../node/schemas.js'
import { EtcdOwners, OWNER_PREFIX } from './etcd-owners.js'
import { openEtcd } from './etcd-client.js'
import type { CatalogStore, FollowHandlers, StoreState } from './index.js'

/** The catalogue: one key per (name, peer id). */
export const ETCD_PREFIX = 'gds/catalog/'
/** Everything gds keeps in etcd. */
const WATCH_PREFIX = 'gds/'
/** Retries of a write whose compare failed (another registry wrote the key in between). */
const MAX_CAS_ATTEMPTS = 8
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 5_000
/** A value larger than any record we write (a full one is under 64 KiB) is not ours: ignored unparsed. */
const MAX_VALUE_BYTES = 256 * 1024

export function etcdKey (name: string, peerId: string): string {
  return `${ETCD_PREFIX}${name}/${peerId}`
}

/**
 * The catalogue in etcd, shared by several registries. Each change is a compare-and-swap on
 * the key's mod revision, and only a newer (incarnation, seq) replaces a stored record: the
 * merge rule of catalog.ts, enforced across registries by etcd. Every registry watches the
 * prefix and applies what the others write to its own Catalog (through `follow`).
 *
 * When etcd does not answer, writes wait in `pending` (the newest per entry, so it is bounded
 * by the catalogue) and are retried with back-off; the registry serves from memory meanwhile.
 */
export class EtcdStore implements CatalogStore {
  readonly where: string
  private readonly client: Etcd3
  private readonly pending = new Map<string, { record: ProviderRecord, removed: boolean }>()
  private reachable = true
  private flushing?: Promise<void>
  private retryTimer?: NodeJS.Timeout
  private retryMs = RETRY_MIN_MS
  private watcher?: Watcher
  private owners?: EtcdOwners
  private stopped = false

  /** `self`: this registry's peer id, what its probe claims say. */
  constructor (hosts: string[], private readonly self: string, private readonly log: Logger, private readonly emit: (e: NodeEvent) => void) {
    this.where = hosts.join(',')
    this.client = openEtcd(hosts)
  }

  async load (): Promise<ProviderRecord[] | undefined> {
    try {
      const kvs = await this.client.getAll().prefix(ETCD_PREFIX).exec()
      this.setReachable(true)
      return kvs.kvs.flatMap(kv => this.parse(kv) ?? [])
    } catch (err: any) {
      this.setReachable(false, err)
      return undefined
    }
  }

  save (changes: readonly Change[]): void {
    for (const c of changes) this.pending.set(entryKey(c.record.name, c.record.peerId), { record: c.record, removed: c.removed === true })
    if (this.reachable) this.flush()
  }

  follow (on: FollowHandlers): void {
    this.owners ??= new EtcdOwners(this.client, this.self, this.log, on)
    const owners = this.owners
    // One watch over both prefixes: the catalogue and who probes whom.
    void this.client.watch().prefix(WATCH_PREFIX).create().then(w => {
      if (this.stopped) { void w.cancel(); return }
      this.watcher = w
      // Who probed whom before this watch began (what it hears since is newer and wins).
      void this.client.getAll().prefix(OWNER_PREFIX).strings().then(kvs => { owners.learn(kvs) }, () => {})
      w.on('put', kv => {
        const key = kv.key.toString()
        if (key.startsWith(OWNER_PREFIX)) { owners.onEvent('put', key, kv.value.toString()); return }
        const r = this.parse(kv)
        if (r !== undefined) on.records([r])
      })
      // A catalogue delete is a reap: every registry reaps on its own clock, nothing to apply.
      w.on('delete', kv => {
        const key = kv.key.toString()
        if (key.startsWith(OWNER_PREFIX)) owners.onEvent('delete', key, '')
      })
      w.on('disconnected', err => { this.setReachable(false, err) })
      w.on('connected', () => {
        this.setReachable(true)
        owners.reclaim()
        // Back after an outage: what the others wrote meanwhile (the merge rule drops the known).
        void this.load().then(records => { if (records !== undefined && records.length > 0) on.records(records) })
      })
      w.on('error', err => { this.log.warn({ err: err?.message }, 'etcd watch error') })
    }, err => {
      this.setReachable(false, err)
      if (!this.stopped) setTimeout(() => { this.follow(on) }, this.retryMs).unref()
    })
  }

  claim (peerId: string): void { this.owners?.claim(peerId) }
  release (peerId: string): void { this.owners?.release(peerId) }
  // Before follow nobody is claimed yet: as one registry would.
  serves (peerId: string): boolean { return this.owners?.owns(peerId) ?? true }
  probedBy (peerId: string): string | undefined { return this.owners?.prober(peerId) }

  async toProbeAtStart (peerIds: string[]): Promise<string[]> {
    // Before follow (no owners yet) or with etcd away: probe them all, as one registry would.
    if (this.owners === undefined || !this.reachable) return peerIds
    return this.owners.adoptUnowned(peerIds)
  }

  state (): StoreState {
    return { kind: 'etcd', state: this.reachable ? 'ok' : 'unreachable', pending: this.pending.size }
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    if (this.reachable) this.flush()
    await this.flushing
    await this.owners?.stop()
    await this.watcher?.cancel().catch(() => {})
    this.client.close()
  }

  private flush (): void {
    if (this.flushing !== undefined) return
    this.flushing = this.drain().finally(() => { this.flushing = undefined })
  }

  private async drain (): Promise<void> {
    while (this.pending.size > 0) {
      const [key, item] = this.pending.entries().next().value as [string, { record: ProviderRecord, removed: boolean }]
      try {
        await this.write(item.record, item.removed)
      } catch (err: any) {
        this.setReachable(false, err)
        if (!this.stopped) this.scheduleRetry()
        return
      }
      // A newer change of the same entry may have replaced it while this one was written.
      if (this.pending.get(key) === item) this.pending.delete(key)
      this.setReachable(true)
    }
  }

  /** One compare-and-swap: only a newer version replaces the stored one. */
  private async write (record: ProviderRecord, removed: boolean): Promise<void> {
    const key = etcdKey(record.name, record.peerId)
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const got = await this.client.get(key).exec()
      const kv = got.kvs[0]
      const stored = kv === undefined ? undefined : this.parse(kv)
      if (removed) {
        // Reaped here; unless another registry has a newer version of it since.
        if (kv === undefined || (stored !== undefined && compareVersion(stored, record) > 0)) return
        const res = await this.client.if(key, 'Mod', '==', kv.mod_revision).then(this.client.delete().key(key)).commit()
        if (res.succeeded) return
        continue
      }
      if (stored !== undefined && compareVersion(stored, record) >= 0) return
      const put = this.client.put(key).value(JSON.stringify(record))
      const res = await (kv === undefined
        ? this.client.if(key, 'Create', '==', 0).then(put).commit()
        : this.client.if(key, 'Mod', '==', kv.mod_revision).then(put).commit())
      if (res.succeeded) return
    }
    this.log.warn({ key }, 'etcd: gave up writing an entry other registries keep changing; theirs stands')
  }

  private scheduleRetry (): void {
    if (this.retryTimer !== undefined) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.flush()
    }, this.retryMs)
    this.retryTimer.unref()
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
  }

  private setReachable (ok: boolean, err?: any): void {
    // Our own close drops the connection: that is not etcd going away.
    if (ok === this.reachable || this.stopped) return
    this.reachable = ok
    if (ok) {
      this.retryMs = RETRY_MIN_MS
      this.log.warn({ store: this.where, pending: this.pending.size }, 'etcd is reachable again: writing the changes made meanwhile')
      this.emit({ event: 'store-state', store: this.where, state: 'ok', pending: this.pending.size })
      this.flush()
    } else {
      this.log.error({ store: this.where, err: err?.message }, 'etcd is unreachable: serving the catalogue from memory, changes wait until it answers')
      this.emit({ event: 'store-state', store: this.where, state: 'unreachable', pending: this.pending.size, error: String(err?.message ?? err) })
    }
  }

  /** A stored value, or undefined (logged) when it is not a record gds wrote under its key. */
  private parse (kv: IKeyValue): ProviderRecord | undefined {
    const key = kv.key.toString()
    if (kv.value.length > MAX_VALUE_BYTES) {
      this.log.warn({ key, bytes: kv.value.length }, 'etcd: ignored an oversized catalogue value')
      return undefined
    }
    let parsed
    try {
      parsed = providerRecord.safeParse(JSON.parse(kv.value.toString()))
    } catch {
      parsed = undefined
    }
    if (parsed?.success !== true || etcdKey(parsed.data.name, parsed.data.peerId) !== key) {
      this.log.warn({ key }, 'etcd: ignored a catalogue value that is not a provider record of its key')
      return undefined
    }
    return parsed.data
  }
}
