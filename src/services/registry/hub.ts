import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Catalog, Change } from '../../node/catalog.js'
import { readFile } from 'node:fs/promises'
import { InvalidConfigError, NotAllowedError, NotRegisteredError } from '../../node/errors.js'
import { eventForChange } from '../../node/events.js'
import { GrantSigner } from '../../node/grant.js'
import type { Transition } from '../../node/heartbeat.js'
import type { Hub, HubComponents } from '../../node/hub.js'
import { serveMux, streamed } from '../../node/mux.js'
import { listPages, pageRecords } from '../../node/pages.js'
import { MAX_INBOUND_REGISTRY_STREAMS, MAX_REGISTRY_IN_FLIGHT, MAX_REQUEST_FRAME, REGISTRY_PROTOCOL } from '../../node/protocols.js'
import { parseStoreUrl } from '../../node/config.js'
import { MESH_SEED_PEERS, registryRequest, type ListResult, type ProviderRecord, type RegisterResult, type RegistryRequest } from '../../node/schemas.js'
import { shuffle } from '../../node/mesh.js'
import { mayProvide, parseAcl, type Acl } from './acl.js'
import type { HttpCompat } from './http-compat/index.js'
import { Notifier } from './notifier.js'
import { PatchBatcher } from './patch-batcher.js'
import { Prober } from './prober.js'
import { Watchers } from './watchers.js'
import type { CatalogStore } from './store/index.js'
import { FileStore } from './store/file-store.js'

export { CATALOG_FILE } from './store/file-store.js'

/** Bytes of providers a register answer carries at most (the client's frame limit is 4 MiB). */
const MAX_PROVIDERS_BYTES = 1024 * 1024
/** How many recent registrants the mesh seed is drawn from. */
const RECENT_REGISTRANTS = 64

/**
 * The registry role: the hub for registration and heartbeats. It keeps the node's catalogue
 * authoritative, probes every provider, pushes each change to the dependents of the changed
 * name (and to gossip), and keeps the catalogue in its store (the data dir, or etcd shared with
 * other registries) so a restart picks up where it left off.
 */
export class RegistryHub implements Hub {
  private readonly catalog: Catalog
  private readonly patches: PatchBatcher
  private readonly prober: Prober
  private readonly notifier: Notifier
  private readonly watchers: Watchers
  private readonly grants: GrantSigner
  /** The Go registry's HTTP API (--http-compat); its entries are never probed, dialled or notified over libp2p. */
  private http?: HttpCompat
  private store!: CatalogStore
  private reapTimer?: NodeJS.Timeout
  /** Who may provide which name (--acl); undefined: open. */
  private acl?: Acl
  private readonly onDisconnect = (e: CustomEvent<{ toString: () => string }>): void => {
    this.prober.trigger(e.detail.toString(), 'connection-closed')
  }

  constructor (private readonly opts: HubComponents) {
    this.catalog = opts.catalog
    this.grants = new GrantSigner(opts.privateKey)
    this.patches = new PatchBatcher(opts.gossip)
    this.notifier = new Notifier(opts.libp2p, opts.log.child({ component: 'notify' }), peerId => this.stateFor(peerId))
    this.watchers = new Watchers(opts.libp2p, opts.log.child({ component: 'watch' }), () => this.list(), opts.now)
    this.prober = new Prober({
      libp2p: opts.libp2p,
      log: opts.log.child({ component: 'heartbeat' }),
      now: opts.now,
      random: opts.random,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
      failureThreshold: opts.failureThreshold,
      onTransition: (peerId, t) => { this.onTransition(peerId, t) },
      onAck: (peerId, figures) => { this.catalog.observe(peerId, figures, this.opts.now()) }
    })
  }

  async start (): Promise<void> {
    if (this.opts.aclFile !== undefined) this.acl = await loadAcl(this.opts.aclFile)
    this.warnIfOpen()
    if (this.opts.httpCompat !== undefined) {
      // Loaded only when asked for: a registry without it does not load fastify.
      const { HttpCompat } = await import('./http-compat/index.js')
      this.http = new HttpCompat({ ...this.opts, listen: this.opts.httpCompat, log: this.opts.log.child({ component: 'http-compat' }), publish: changes => { this.publish(changes) } })
    }
    this.store = await this.openStore()
    const loaded = await this.load()
    this.store.follow({
      records: records => { this.adopt(records) },
      takenOver: peerId => { this.takeOver(peerId) },
      disowned: peerId => { this.prober.remove(peerId) },
      isLive: peerId => this.catalog.ofPeer(peerId).some(r => r.transport !== 'http' && (r.status === 'up' || r.status === 'suspect'))
    })
    if (loaded) await this.probeLoaded()
    await this.http?.start()
    await serveMux(this.opts.libp2p, REGISTRY_PROTOCOL, async (req, connection) => this.handle(req, connection.remotePeer.toString()), {
      requestSchema: registryRequest,
      maxBytes: MAX_REQUEST_FRAME,
      maxInboundStreams: MAX_INBOUND_REGISTRY_STREAMS,
      maxInFlight: MAX_REGISTRY_IN_FLIGHT,
      log: this.opts.log.child({ component: 'registry' })
    })
    await this.watchers.start()
    this.opts.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const every = Math.max(100, Math.min(5_000, Math.floor(this.opts.reapAfterMs / 4)))
    this.reapTimer = setInterval(() => { this.publish(this.catalog.reap(this.opts.now(), this.opts.reapAfterMs)) }, every)
    this.reapTimer.unref()
  }

  async stop (): Promise<void> {
    await this.http?.stop()
    this.opts.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    clearInterval(this.reapTimer)
    this.patches.stop()
    this.prober.stop()
    this.notifier.stop()
    await this.watchers.stop()
    await this.opts.libp2p.unhandle(REGISTRY_PROTOCOL).catch(() => {})
    await this.store?.stop()
  }

  private async openStore (): Promise<CatalogStore> {
    if (this.opts.store === undefined) return new FileStore(this.opts.dataDir, () => this.catalog.all(), this.opts.log)
    // Loaded only when asked for: a registry on its data dir does not load the etcd client.
    const { EtcdStore } = await import('./store/etcd-store.js')
    return new EtcdStore(parseStoreUrl(this.opts.store).hosts, this.opts.libp2p.peerId.toString(), this.opts.log.child({ component: 'store' }), this.opts.emit)
  }

  /** The registry that probed `peerId` died and its service has not re-registered: probe it now. */
  private takeOver (peerId: string): void {
    const live = this.catalog.ofPeer(peerId).find(r => r.status === 'up' || r.status === 'suspect')
    if (live === undefined) return
    this.opts.log.info({ peer: peerId }, 'took over probing a peer whose registry is gone')
    // Its addresses came through etcd, not a connection: without them the probe could not dial
    // and a live provider would be declared down.
    const addrs = live.addrs.map(a => multiaddr(a))
    void this.opts.libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: addrs }).catch(() => {}).then(() => {
      this.prober.add(peerId, { immediately: true, status: live.status === 'suspect' ? 'suspect' : 'up' })
    })
  }

  /**
   * Records another registry wrote to the shared store: merged by the one rule (a newer
   * version wins), then pushed to this registry's dependents and watchers and on gossip, as
   * its own changes are. Not written back: the store already has them.
   */
  private adopt (records: ProviderRecord[]): void {
    const now = this.opts.now()
    const changes: Change[] = []
    for (const r of records) {
      const { change } = this.catalog.apply(r, 'registry', now)
      if (change !== undefined) changes.push(change)
    }
    this.publish(changes, { save: false })
  }

  /** Open mode (no --acl, no --swarm-key) reachable beyond loopback: anyone may provide any name. */
  private warnIfOpen (): void {
    if (this.acl !== undefined || this.opts.swarmKeyFile !== undefined) return
    const wide = this.opts.libp2p.getMultiaddrs().map(String).filter(a => !/^\/(ip4\/127\.|ip6\/::1\/)/.test(a))
    if (wide.length === 0) return
    this.opts.log.warn({ addrs: wide.slice(0, 4) },
      'the registry listens beyond loopback in open mode: any peer that can connect may provide any name (use --acl FILE, --swarm-key FILE or both)')
  }

  /** A call through the balancer failed on this peer: probe it now. */
  suspect (peerId: string): boolean {
    return this.prober.trigger(peerId, 'suspect-report')
  }

  /** The answer to `list`, also what `gds status` prints. */
  list (): ListResult {
    const peerId = this.opts.libp2p.peerId.toString()
    // The file store is the single registry of old: its answer stays as it was.
    const store = this.store?.state()
    const shared = store !== undefined && store.kind !== 'file' ? { store: { ...store, where: this.store.where } } : {}
    return {
      registry: { peerId, addrs: this.opts.libp2p.getMultiaddrs().map(String) },
      services: this.catalog.all().map(r => {
        const registry = this.store?.probedBy(r.peerId)
        return registry === undefined ? r : { ...r, registry }
      }),
      source: { peerId, role: 'registry', registryConnected: true, ...shared }
    }
  }

  async handle (req: RegistryRequest, peerId: string): Promise<unknown> {
    const now = this.opts.now()
    switch (req.op) {
      case 'register': {
        // Validate the whole request, then apply: a refused registration changes nothing.
        for (const reg of req.services) {
          if (!mayProvide(this.acl, reg.name, peerId)) throw new NotAllowedError(reg.name, peerId)
          this.catalog.check(peerId, reg)
        }
        this.catalog.checkRoom(peerId, req.services.map(s => s.name))
        const changes: Change[] = []
        const records: ProviderRecord[] = []
        for (const reg of req.services) {
          const r = this.catalog.register(peerId, reg, now)
          records.push(r.record)
          if (r.changed) changes.push({ record: r.record, previous: r.previous })
        }
        this.store.claim(peerId)
        // The dependents' patches first: they need nothing of the peer store, whose write (a
        // protobuf round trip of the peer's record) they used to wait behind.
        this.publish(changes)
        const addrs = req.services.flatMap(s => s.addrs).map(a => multiaddr(a))
        if (addrs.length > 0) await this.opts.libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: addrs }).catch(() => {})
        this.prober.add(peerId, { reset: changes.length > 0 })
        const required = new Set(req.services.flatMap(s => s.requires))
        // Signed in open mode too: only a peer that registered can announce itself on gossip.
        const grants = await Promise.all(records.map(async r => this.grants.sign({ name: r.name, peerId, incarnation: r.incarnation, issuedAt: now })))
        const providers = [...required].flatMap(n => this.catalog.providersOf(n))
        // More than fits a frame: the registrant pages through them with streamed lookups.
        const omit = [...pageRecords(providers, { maxBytes: MAX_PROVIDERS_BYTES })].length > 1
        const result: RegisterResult = { records, providers: omit ? [] : providers, peers: this.meshSeed(peerId), grants, ...(omit ? { providersOmitted: true as const } : {}) }
        if (req.services.some(s => s.addrs.length > 0)) this.rememberRegistrant(peerId)
        return result
      }
      case 'deregister': {
        const unknown = req.names.find(n => this.catalog.get(n, peerId) === undefined)
        if (unknown !== undefined) throw new NotRegisteredError(unknown)
        this.publish(this.catalog.deregister(peerId, req.names, now))
        if (this.catalog.ofPeer(peerId).every(r => r.status === 'leaving')) {
          this.prober.remove(peerId)
          this.store.release(peerId)
          this.notifier.close(peerId)
        }
        return { removed: req.names }
      }
      case 'lookup':
        return req.stream === true ? streamed(pageRecords(this.catalog.providersOf(req.name))) : { providers: this.catalog.providersOf(req.name) }
      case 'list':
        // Paged: the whole catalogue outgrows a frame long before it reaches the cap.
        return req.stream === true ? streamed(listPages(this.list())) : this.list()
      case 'suspect':
        return { probing: this.suspect(req.peerId) }
    }
  }

  /**
   * Recent registrants with addresses, most recent last: the pool a mesh seed is drawn from, in
   * O(1). One without any cannot be dialled, so it is never a seed: kept out, it no longer costs
   * every later registration a look at its entries (a tenth of the registry's CPU when the
   * registrants had none, as the register bench's light peers have).
   */
  private readonly recent: string[] = []

  private rememberRegistrant (peerId: string): void {
    const i = this.recent.indexOf(peerId)
    if (i >= 0) this.recent.splice(i, 1)
    this.recent.push(peerId)
    if (this.recent.length > RECENT_REGISTRANTS) this.recent.shift()
  }

  /** Up to MESH_SEED_PEERS live peers other than `peerId`, in random order, with their addrs. */
  private meshSeed (peerId: string): RegisterResult['peers'] {
    const out: RegisterResult['peers'] = []
    const pool = [...this.recent]
    shuffle(pool)
    for (const p of pool) {
      if (out.length === MESH_SEED_PEERS) break
      const r = p === peerId ? undefined : this.catalog.ofPeer(p).find(x => x.status === 'up' && x.addrs.length > 0)
      if (r !== undefined) out.push({ peerId: r.peerId, addrs: r.addrs })
    }
    return out
  }

  private onTransition (peerId: string, t: Transition): void {
    const status = t.to
    this.publish(this.catalog.setPeerStatus(peerId, status, t.reason, this.opts.now()))
    if (status === 'down') this.notifier.close(peerId)
    // Back from down (a paused process): it missed the patches sent while its link was closed,
    // so give it the current state of everything it requires.
    if (status === 'up' && t.from === 'down') this.resyncDependent(peerId)
  }

  private resyncDependent (peerId: string): void {
    this.notifier.send(peerId, this.stateFor(peerId))
  }

  /** What a dependent should know now: every entry of every name it requires (none if it is gone). */
  private stateFor (peerId: string): ProviderRecord[] {
    const own = this.catalog.ofPeer(peerId)
    if (!own.some(r => r.status === 'up' || r.status === 'suspect')) return []
    const required = new Set(own.flatMap(r => r.requires))
    return [...required].flatMap(n => this.catalog.providersOf(n)).filter(r => r.peerId !== peerId)
  }

  /** One change set → events, patches to each dependent (grouped), and a write to the store. */
  private publish (changes: Change[], opts: { save?: boolean } = {}): void {
    if (changes.length === 0) return
    this.watchers.publish(changes)
    this.http?.onChanges(changes)
    const perDependent = new Map<string, ProviderRecord[]>()
    for (const change of changes) {
      const e = eventForChange(change, 'local')
      if (e !== undefined) {
        this.opts.emit(e)
        // Info reaches the log service: `gds logs --service registry` is the cluster's membership history.
        this.opts.log.info({ provider: change.record.name, peer: change.record.peerId, status: change.removed === true ? 'removed' : change.record.status, reason: 'reason' in e ? e.reason : undefined }, membershipLine(change))
      }
      if (change.removed === true) {
        // A reaped peer with nothing left is no longer probed.
        if (this.catalog.ofPeer(change.record.peerId).length === 0) {
          this.prober.remove(change.record.peerId)
          this.store.release(change.record.peerId)
          this.notifier.close(change.record.peerId)
        }
        continue
      }
      for (const dep of this.catalog.dependentsOf(change.record.name)) {
        // Another registry's dependents hear it from theirs (they would refuse ours).
        if (dep === change.record.peerId || this.catalog.ofPeer(dep)[0]?.transport === 'http' || !this.store.serves(dep)) continue
        let list = perDependent.get(dep)
        if (list === undefined) { list = []; perDependent.set(dep, list) }
        list.push(change.record)
      }
    }
    // Queued for gossip first: each dependent learns which gossip copy it need not verify.
    const batches = this.patches.push(changes.filter(c => c.removed !== true).map(c => c.record), perDependent)
    for (const [dep, records] of perDependent) this.notifier.send(dep, records, batches.get(dep))
    if (opts.save !== false) this.store.save(changes)
  }

  /** The stored catalogue into the table; false when there was none. */
  private async load (): Promise<boolean> {
    const records = await this.store.load()
    if (records === undefined) return false
    const now = this.opts.now()
    const dropped = this.catalog.load(records, now)
    if (dropped > 0) this.opts.log.warn({ dropped, maxEntries: this.catalog.maxEntries, path: this.store.where }, 'the persisted catalogue holds more than the caps allow: left out the entries past them')
    for (const r of records) {
      if (r.addrs.length > 0) await this.opts.libp2p.peerStore.merge(peerIdFromString(r.peerId), { multiaddrs: r.addrs.map(a => multiaddr(a)) }).catch(() => {})
    }
    this.opts.emit({ event: 'catalog-loaded', entries: records.length, path: this.store.where })
    return true
  }

  /**
   * Probe everyone we knew at once: the ones still alive stay up, the rest go down. With a
   * shared store, only those no other registry probes.
   */
  private async probeLoaded (): Promise<void> {
    const now = this.opts.now()
    const candidates: string[] = []
    for (const peerId of this.catalog.peers()) {
      const live = this.catalog.ofPeer(peerId).filter(r => r.status !== 'leaving')
      if (live.length === 0) continue
      if (live[0].transport === 'http') {
        // HttpCompat probes its own; without --http-compat nothing can, so they are down.
        if (this.http === undefined) this.publish(this.catalog.setPeerStatus(peerId, 'down', 'http-compat-off', now))
        continue
      }
      candidates.push(peerId)
    }
    for (const peerId of await this.store.toProbeAtStart(candidates)) {
      const status = this.catalog.ofPeer(peerId).find(r => r.status !== 'leaving')?.status
      if (status !== undefined) this.prober.add(peerId, { immediately: true, status: status === 'leaving' ? 'down' : status })
    }
  }
}

async function loadAcl (file: string): Promise<Acl> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    throw new InvalidConfigError(`ACL file ${file}: cannot read it (${err?.code ?? err?.message ?? err})`)
  }
  return parseAcl(text, file)
}

/** `grading 12D3KooW…abcdef down (connection-closed)`, in the health words of gds status. */
export function membershipLine (change: Change): string {
  const r = change.record
  const who = `${r.name} ${r.peerId.slice(0, 8)}…${r.peerId.slice(-6)}`
  if (change.removed === true) return `${who} removed from the catalogue`
  const reason = r.status === 'leaving' ? 'left' : r.reason ?? (r.status === 'up' ? 'registered' : 'heartbeat-timeout')
  return `${who} ${r.status} (${reason})`
}
