import '../polyfills.js'
import { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { readFile } from 'node:fs/promises'
import { Catalog } from './catalog.js'
import type { GdsConfig } from './config.js'
import { GdsError, InvalidConfigError, ListenError, UnauthorizedError } from './errors.js'
import type { NodeEvent, TimedEvent } from './events.js'
import { loadOrCreateKey, lockDataDir } from './identity.js'
import { createGdsLibp2p, type GdsLibp2p } from './libp2p.js'
import { silentLogger, type Logger, type LogTap } from './logger.js'
import { LogShipper } from './log-shipper.js'
import { RegistrySession } from './registry-session.js'
import { CatalogGossip } from './gossip.js'
import { MeshKeeper } from './mesh.js'
import { Presence } from './presence.js'
import { eventForChange } from './events.js'
import { CATALOG_TOPIC, MAX_INBOUND_REGISTRY_STREAMS, MAX_REGISTRY_IN_FLIGHT, MAX_REQUEST_FRAME, REGISTRY_PROTOCOL } from './protocols.js'
import { serveMux } from './mux.js'
import { registryRequest, type ListResult, type ProviderRecord } from './schemas.js'
import type { ProviderEvent, ServiceContext, ServiceDefinition } from './service.js'
import type { CallOptions } from './balancer.js'
import { Caller, LookupCache, type LocalInvoker, type ProviderSource } from './caller.js'
import { RpcServer } from './rpc-server.js'
import { RegistryHub } from '../services/registry/hub.js'

/** How often the mesh is topped up to `meshDegree` connections. */
const MESH_INTERVAL_MS = 5_000
/** How often a node re-announces itself on gossip. */
const ANNOUNCE_INTERVAL_MS = 30_000
/** How long a stopping node lets its `leaving` announcement propagate before closing. */
const LEAVE_PROPAGATE_MS = 250
/** Registry changes within this long share one gossip message (the hub path is not delayed). */
const PATCH_COALESCE_MS = 5
/** Records per gossip patch (the validator accepts up to 1,000). */
const PATCH_BATCH = 500
/** New topic subscribers within this long share one announcement. */
const ANNOUNCE_COALESCE_MS = 100

export interface GdsNodeOptions {
  config: GdsConfig
  /** What this node provides (empty for the registry role). */
  services?: ServiceDefinition[]
  log?: Logger
  /** The clock, passed in so tests can steer it; nothing below this reads the time itself. */
  now?: () => number
  /** The tap of the node's logger (createLogger): its entries are shipped to the log service. */
  logTap?: LogTap
}

/**
 * One gds process: a libp2p peer plus its role. The registry role runs the hub; every other
 * role runs its services and a session with the registry. `new` has no side effects; `start`
 * does the work, so listeners can be attached first (serf's Create/Start split).
 */
export class GdsNode extends EventEmitter<{ event: [TimedEvent] }> {
  readonly config: GdsConfig
  readonly catalog: Catalog
  private readonly services: ServiceDefinition[]
  private readonly log: Logger
  private readonly now: () => number
  private libp2p?: GdsLibp2p
  private hub?: RegistryHub
  private session?: RegistrySession
  private unlock?: () => Promise<void>
  private rpcServer?: RpcServer
  private shipper?: LogShipper
  private readonly logTap?: LogTap
  private caller?: Caller
  private gossip?: CatalogGossip
  private presence?: Presence
  private mesh?: MeshKeeper
  private announceTimer?: NodeJS.Timeout
  private readonly incarnation: number
  private started = false
  private stopping?: Promise<void>

  constructor (opts: GdsNodeOptions) {
    super()
    this.config = opts.config
    this.services = opts.services ?? []
    this.log = opts.log ?? silentLogger
    this.now = opts.now ?? Date.now
    this.incarnation = this.now()
    this.catalog = new Catalog()
    this.logTap = opts.logTap
  }

  get isRegistry (): boolean { return this.config.role === 'registry' }

  get peerId (): string {
    return this.requireStarted().peerId.toString()
  }

  get addrs (): string[] {
    return this.requireStarted().getMultiaddrs().map(String)
  }

  /** The libp2p node, for the library's client helpers and tests. */
  get p2p (): GdsLibp2p { return this.requireStarted() }

  /** The registry hub (registry role only). */
  get registry (): RegistryHub | undefined { return this.hub }

  get registrySession (): RegistrySession | undefined { return this.session }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.unlock = await lockDataDir(this.config.dataDir)
    try {
      const privateKey = await loadOrCreateKey(this.config.dataDir)
      const swarmKey = await this.readSwarmKey()
      try {
        this.libp2p = await createGdsLibp2p({ privateKey, listen: this.config.listen, swarmKey, hub: this.isRegistry })
      } catch (err: any) {
        throw new ListenError(this.config.listen.join(', '), err, 'choose another with --listen')
      }
      this.emitEvent({ event: 'listening', peerId: this.peerId, addrs: this.addrs, role: this.config.role, name: this.config.name, dataDir: this.config.dataDir })
      this.startGossip()
      if (this.isRegistry) await this.startHub()
      this.startCaller()
      this.startShipping()
      if (!this.isRegistry) await this.startServices()
      this.emitEvent({ event: 'ready' })
    } catch (err) {
      await this.teardown()
      throw err
    }
  }

  /** Graceful stop: services stop, the session deregisters, then libp2p closes. Idempotent. */
  async stop (reason = 'requested'): Promise<void> {
    if (!this.started) return
    this.stopping ??= (async () => {
      this.emitEvent({ event: 'stopping', reason })
      clearInterval(this.announceTimer)
      this.mesh?.stop()
      // Leave first, on both paths (the registry may be gone; gossip carries it anyway), so no
      // caller is sent here once we stop serving.
      // gossipsub's publish resolves when the message is queued, not sent: give it time to
      // leave before the connections close (serf's LeavePropagateDelay), alongside the deregister.
      await Promise.all([
        this.presence?.announce('leaving').then(async () => { await delay(LEAVE_PROPAGATE_MS) }),
        this.session?.stop()
      ])
      // Calls already in flight finish; then the services stop.
      await this.rpcServer?.stop()
      for (const s of [...this.services].reverse()) {
        try { await s.stop?.() } catch (err: any) { this.log.error({ err: err?.message, service: s.name }, 'service stop failed') }
      }
      // Last words reach the log service while the connections are still up.
      await this.shipper?.stop()
      if (!this.isRegistry) await this.libp2p?.unhandle(REGISTRY_PROTOCOL).catch(() => {})
      this.gossip?.stop()
      this.caller?.close()
      await this.hub?.stop()
      await this.teardown()
      this.emitEvent({ event: 'stopped' })
    })()
    return this.stopping
  }

  /** Calls a method of a service through the balancer (providers from this node's catalogue). */
  async call<T = unknown> (service: string, method: string, params?: unknown, opts?: CallOptions): Promise<T> {
    return this.requireCaller().call<T>(service, method, params, opts)
  }

  /** Calls a streaming method of a service. */
  stream<T = unknown> (service: string, method: string, params?: unknown, opts?: CallOptions): AsyncIterable<T> {
    return this.requireCaller().stream<T>(service, method, params, opts)
  }

  private requireCaller (): Caller {
    if (this.caller === undefined) throw new GdsError('the node is not started', 'NOT_STARTED')
    return this.caller
  }

  /**
   * Calls go to providers from the catalogue for names this node follows (the registry follows
   * all), else from a registry lookup; to this very process when it is the provider.
   */
  private startCaller (): void {
    const libp2p = this.requireStarted()
    const hub = this.hub
    const follows = (s: string): boolean => hub !== undefined || this.services.some(d => (d.requires ?? []).includes(s))
    const table = hub?.catalog ?? this.catalog
    const lookups = new LookupCache(async s => {
      if (this.session === undefined) return []
      return this.session.lookup(s)
    }, this.now)
    const source: ProviderSource = {
      refresh: async s => { if (!follows(s)) await lookups.refresh(s) },
      providers: s => follows(s) ? table.providersOf(s) : lookups.providers(s)
    }
    this.rpcServer = new RpcServer(libp2p, this.log.child({ component: 'rpc' }))
    const server = this.rpcServer
    const self = this.peerId
    const local: LocalInvoker = {
      peerId: self,
      call: async (service, method, params) => server.invoke(service, method, params, self),
      stream: (service, method, params, signal) => server.invokeStream(service, method, params, self, signal)
    }
    this.caller = new Caller(libp2p, source, peerId => {
      if (hub !== undefined) hub.suspect(peerId)
      else void this.session?.suspect(peerId)
    }, local)
  }

  /** The gossip path of the catalogue (DESIGN.md §4): every node subscribes, validates, forwards. */
  private startGossip (): void {
    const libp2p = this.requireStarted()
    const required = new Set(this.services.flatMap(s => s.requires ?? []))
    this.mesh = new MeshKeeper({
      libp2p,
      log: this.log.child({ component: 'mesh' }),
      degree: this.config.meshDegree,
      intervalMs: MESH_INTERVAL_MS,
      registryId: () => this.registryId()
    })
    this.gossip = new CatalogGossip({
      pubsub: libp2p.services.pubsub,
      catalog: this.catalog,
      selfId: this.peerId,
      registryId: () => this.registryId(),
      // The registry's table is fed by registrations and heartbeats only.
      follows: name => !this.isRegistry && required.has(name),
      now: this.now,
      log: this.log.child({ component: 'gossip' }),
      onChanges: changes => {
        for (const c of changes) {
          const e = eventForChange(c, 'gossip')
          if (e !== undefined) this.emitEvent(e)
        }
      },
      onSelf: record => {
        if (this.presence?.onSelf(record) === true) this.log.warn({ reason: record.reason }, 'the registry declared this node down: refuted')
      },
      onPeerSeen: (peerId, addrs) => { this.mesh?.learn(peerId, addrs) }
    })
    this.gossip.start()
    this.mesh.start()
  }

  /**
   * Every node answers `list` with its own view (its entries and what it follows), so the
   * cluster can be looked at through any peer while the registry is away (`gds status --peer`).
   */
  private async servePeerView (presence: Presence): Promise<void> {
    await serveMux(this.requireStarted(), REGISTRY_PROTOCOL, async req => {
      if (req.op !== 'list') throw new UnauthorizedError(`this peer is not the registry; it only answers "list" (asked: ${req.op})`)
      return this.peerView(presence)
    }, { requestSchema: registryRequest, maxBytes: MAX_REQUEST_FRAME, maxInboundStreams: MAX_INBOUND_REGISTRY_STREAMS, maxInFlight: MAX_REGISTRY_IN_FLIGHT, log: this.log.child({ component: 'peer-view' }) })
  }

  private peerView (presence: Presence): ListResult {
    const self = this.peerId
    const own: ProviderRecord[] = presence.registrations().map(r => ({ ...r, peerId: self, status: 'up' as const }))
    const registry = this.session?.registryPeer?.toString() ?? self
    return {
      registry: { peerId: registry, addrs: [] },
      services: [...own, ...this.catalog.all()],
      source: { peerId: self, role: 'peer', registryConnected: this.session?.isConnected ?? false, connectedPeers: this.requireStarted().getPeers().length }
    }
  }

  private registryId (): string | undefined {
    if (this.isRegistry) return this.libp2p?.peerId.toString()
    return this.session?.registryPeer?.toString()
  }

  private patchQueue: ProviderRecord[] = []
  private patchTimer?: NodeJS.Timeout

  /** Registry patches go out on gossip in batches: one signed message per burst, not per change. */
  private queuePatch (records: ProviderRecord[]): void {
    this.patchQueue.push(...records)
    this.patchTimer ??= setTimeout(() => {
      this.patchTimer = undefined
      // Only the newest version of each entry matters; gossip messages are capped in size.
      const latest = new Map(this.patchQueue.splice(0).map(r => [`${r.name}\u0000${r.peerId}`, r]))
      const all = [...latest.values()]
      for (let i = 0; i < all.length; i += PATCH_BATCH) void this.gossip?.publish({ kind: 'patch', records: all.slice(i, i + PATCH_BATCH) })
    }, PATCH_COALESCE_MS)
  }

  /** Gossip figures: messages accepted, rejected, applied... */
  get gossipCounters (): CatalogGossip['counters'] | undefined { return this.gossip?.counters }

  /** Every node's log goes to the cluster log service (DESIGN.md §6). */
  private startShipping (): void {
    if (this.logTap === undefined) return
    const shipper = new LogShipper({
      peerId: this.peerId,
      incarnation: this.incarnation,
      service: this.config.name,
      send: async entries => { await this.call('log', 'append', { entries }, { idempotent: true, timeoutMs: 5_000 }) },
      onDrop: dropped => { this.log.warn({ dropped }, 'no log service is reachable and the log buffer is full: dropping the oldest entries') }
    })
    this.shipper = shipper
    this.logTap.attach(line => { shipper.push(line) })
  }

  /** Shipping figures: entries buffered, shipped, dropped. */
  get logShipping (): { buffered: number, shipped: number, dropped: number } | undefined {
    const s = this.shipper
    return s === undefined ? undefined : { buffered: s.buffered, shipped: s.shipped, dropped: s.dropped }
  }

  private async startHub (): Promise<void> {
    this.hub = new RegistryHub({
      libp2p: this.requireStarted(),
      log: this.log.child({ component: 'hub' }),
      now: this.now,
      random: Math.random,
      dataDir: this.config.dataDir,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.config.heartbeatTimeoutMs,
      failureThreshold: this.config.failureThreshold,
      reapAfterMs: this.config.reapAfterMs,
      emit: e => { this.emitEvent(e) },
      publishPatch: records => { this.queuePatch(records) }
    })
    await this.hub.start()
  }

  private async startServices (): Promise<void> {
    const libp2p = this.requireStarted()
    const ctx: Omit<ServiceContext, 'serving'> = {
      config: this.config,
      log: this.log,
      catalog: this.catalog,
      peerId: this.peerId,
      call: async (service, method, params, opts) => this.call(service, method, params, opts),
      onProviderChange: listener => {
        const f = (e: TimedEvent): void => { if (e.event.startsWith('provider-')) listener(e as ProviderEvent) }
        this.on('event', f)
        return () => { this.off('event', f) }
      },
      stream: (service, method, params, opts) => this.stream(service, method, params, opts)
    }
    // Services are ready to serve before they are advertised.
    for (const s of this.services) await s.start?.({ ...ctx, serving: url => { this.emitEvent({ event: 'serving', service: s.name, url }) } })
    await this.rpcServer?.start(this.services)
    const gossip = this.gossip
    if (gossip === undefined) throw new GdsError('gossip is not started', 'NOT_STARTED')
    const presence = new Presence({
      services: this.services,
      peerId: this.peerId,
      incarnation: this.incarnation,
      addrs: () => this.addrs,
      gossip,
      reregister: () => { this.session?.reregister() }
    })
    this.presence = presence
    this.session = new RegistrySession({
      libp2p,
      log: this.log.child({ component: 'session' }),
      now: this.now,
      random: Math.random,
      catalog: this.catalog,
      registry: this.config.registry,
      registrations: () => presence.registrations(),
      onRegistered: (records, peers) => {
        for (const p of peers) this.mesh?.learn(p.peerId, p.addrs)
        presence.adopt(records)
        void presence.announce('up')
      },
      reconnectMinMs: this.config.reconnectMinMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      reapAfterMs: this.config.reapAfterMs,
      load: () => this.rpcServer?.load ?? 0,
      emit: e => { this.emitEvent(e) }
    })
    // Announce when peers join the topic (coalesced: one announcement after each burst), so a
    // node that joins through any peer is heard even while the registry is away. Attached
    // before any dialing, or the first subscriptions could come and go unseen.
    let pending: NodeJS.Timeout | undefined
    const onSubscription = (e: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
      if (pending !== undefined || !e.detail.subscriptions.some(s => s.topic === CATALOG_TOPIC && s.subscribe)) return
      pending = setTimeout(() => { pending = undefined; void presence.announce('up') }, ANNOUNCE_COALESCE_MS)
    }
    libp2p.services.pubsub.addEventListener('subscription-change', onSubscription)
    await this.session.start()
    await this.servePeerView(presence)
    await this.mesh?.bootstrap(this.config.bootstrap)
    void presence.announce('up')
    this.announceTimer = setInterval(() => { void presence.announce('up') }, ANNOUNCE_INTERVAL_MS)
    this.announceTimer.unref()
  }

  private async readSwarmKey (): Promise<Uint8Array | undefined> {
    if (this.config.swarmKeyFile === undefined) return undefined
    try {
      return await readFile(this.config.swarmKeyFile)
    } catch (err: any) {
      throw new InvalidConfigError(`cannot read swarm key ${this.config.swarmKeyFile}: ${err?.code === 'ENOENT' ? 'no such file' : err?.message}`)
    }
  }

  private async teardown (): Promise<void> {
    try {
      await this.libp2p?.stop()
    } catch (err: any) {
      this.log.error({ err: err?.message }, 'libp2p stop failed')
    }
    await this.unlock?.()
    this.unlock = undefined
  }

  private emitEvent (e: NodeEvent): void {
    this.emit('event', { ...e, ts: this.now() })
  }

  private requireStarted (): GdsLibp2p {
    if (this.libp2p === undefined) throw new GdsError('the node is not started', 'NOT_STARTED')
    return this.libp2p
  }
}
