import '../polyfills.js'
import { EventEmitter } from 'node:events'
import type { CallOptions } from './balancer.js'
import { Caller, LookupCache, catalogSource } from './caller.js'
import { Catalog, isAvailable } from './catalog.js'
import type { GdsConfig } from './config.js'
import { InvalidConfigError, NotStartedError } from './errors.js'
import { eventsForChanges, type NodeEvent, type TimedEvent } from './events.js'
import { following, type Following } from './follow.js'
import { CatalogGossip, type Registries } from './gossip.js'
import { hubSettings, type Hub, type HubFactory } from './hub.js'
import { lockDataDir } from './identity.js'
import { createNodeLibp2p, type GdsLibp2p } from './libp2p.js'
import { shipNodeLog, type LogShipper } from './log-shipper.js'
import { silentLogger, type Logger, type LogTap } from './logger.js'
import { MeshKeeper } from './mesh.js'
import type { RegistrySession } from './registry-session.js'
import type { ProviderRecord } from './schemas.js'
import type { ServiceDefinition } from './service.js'
import { ServiceHost } from './service-host.js'

/** How often the mesh is topped up to `meshDegree` connections. */
const MESH_INTERVAL_MS = 5_000

export interface GdsNodeOptions {
  config: GdsConfig
  /** What this node provides. */
  services?: ServiceDefinition[]
  /** The registry role's hub (resolveRole gives it): the node runs it instead of services. */
  hub?: HubFactory
  log?: Logger
  /** The clock, passed in so tests can steer it; nothing below this reads the time itself. */
  now?: () => number
  /** Randomness (provider choice), passed in like the clock. */
  random?: () => number
  /** The tap of the node's logger (createLogger): its entries are shipped to the log service. */
  logTap?: LogTap
}

/**
 * One gds process: a libp2p peer plus its role. The registry role runs the hub; every other
 * role runs its services and a session with the registry. GdsNode only builds these parts and
 * orders their start and stop. `new` has no side effects; `start` does the work, so listeners
 * can be attached first (serf's Create/Start split).
 */
export class GdsNode extends EventEmitter<{ event: [TimedEvent] }> {
  readonly config: GdsConfig
  /** The node's one table: the registry's authoritative one, or every record a service hears. */
  readonly catalog: Catalog
  private readonly services: ServiceDefinition[]
  private readonly makeHub?: HubFactory
  private readonly following: Following
  private readonly log: Logger
  private readonly now: () => number
  private readonly random: () => number
  private readonly logTap?: LogTap
  private readonly incarnation: number
  private readonly fatal = Promise.withResolvers<never>()
  /**
   * Rejects when the node stopped for a reason it cannot recover from (the registry's access
   * policy refused its names); never resolves. `gds node start` exits 1 with it.
   */
  readonly failed: Promise<never> = this.fatal.promise
  private libp2p?: GdsLibp2p
  private unlock?: () => Promise<void>
  private gossip?: CatalogGossip
  private mesh?: MeshKeeper
  private hub?: Hub
  private host?: ServiceHost
  private caller?: Caller
  private shipper?: LogShipper
  private started = false
  private stopping?: Promise<void>

  constructor (opts: GdsNodeOptions) {
    super()
    if (opts.config.role === 'registry' && opts.hub === undefined) throw new InvalidConfigError('role registry runs the registry hub: pass the hub resolveRole(config) gives')
    this.config = opts.config
    this.services = opts.services ?? []
    this.makeHub = opts.hub
    this.following = following(this.services, this.isRegistry)
    this.catalog = new Catalog({ maxEntries: opts.config.maxEntries, ...(this.isRegistry ? {} : { keeps: this.following.keeps }) })
    this.log = opts.log ?? silentLogger
    this.now = opts.now ?? Date.now
    this.random = opts.random ?? Math.random
    this.incarnation = this.now()
    this.logTap = opts.logTap
    // Nobody need wait on `failed` (tests, library users): its rejection is not an unhandled one.
    this.failed.catch(() => {})
  }

  get isRegistry (): boolean { return this.makeHub !== undefined }
  get peerId (): string { return this.requireStarted().peerId.toString() }
  get addrs (): string[] { return this.requireStarted().getMultiaddrs().map(String) }
  /** The libp2p node, for the library's client helpers and tests. */
  get p2p (): GdsLibp2p { return this.requireStarted() }
  /** The registry hub (registry role only). */
  get registry (): Hub | undefined { return this.hub }
  get registrySession (): RegistrySession | undefined { return this.host?.session }
  /** Gossip figures: messages accepted, rejected, applied... */
  get gossipCounters (): CatalogGossip['counters'] | undefined { return this.gossip?.counters }

  /** Shipping figures: entries buffered, shipped, dropped (buffer full), rejected (refused by the log service). */
  get logShipping (): { buffered: number, shipped: number, dropped: number, rejected: number } | undefined {
    const s = this.shipper
    return s === undefined ? undefined : { buffered: s.buffered, shipped: s.shipped, dropped: s.dropped, rejected: s.rejected }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.unlock = await lockDataDir(this.config.dataDir)
    try {
      const { libp2p, privateKey } = await createNodeLibp2p(this.config, this.isRegistry)
      this.libp2p = libp2p
      this.emitEvent({ event: 'listening', peerId: this.peerId, addrs: this.addrs, role: this.config.role, name: this.config.name, dataDir: this.config.dataDir })
      const { gossip, mesh } = this.startGossip(libp2p)
      const emit = (e: NodeEvent): void => { this.emitEvent(e) }
      if (this.makeHub !== undefined) {
        this.hub = this.makeHub({ ...hubSettings(this.config), libp2p, privateKey, catalog: this.catalog, gossip, log: this.log.child({ component: 'hub' }), now: this.now, random: this.random, emit })
        await this.hub.start()
      } else {
        // Built now and started last: calls reach the registry and this process's services through it.
        const { config, services, catalog, incarnation, log, now, random } = this
        this.host = new ServiceHost({ libp2p, config, services, catalog, incarnation, gossip, mesh, caller: this, events: this, emit, log, now, random,
          onFatal: err => { this.fatal.reject(err); void this.stop('registration-refused') } })
      }
      this.startCaller(libp2p)
      this.startShipping()
      await this.host?.start()
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
      this.mesh?.stop()
      await this.host?.stop()
      // Last words reach the log service while the connections are still up.
      await this.shipper?.stop()
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

  /** The gossip path of the catalogue (DESIGN.md §4): every node subscribes, validates, forwards. */
  private startGossip (libp2p: GdsLibp2p): { gossip: CatalogGossip, mesh: MeshKeeper } {
    // Patches and grants count from any of the registries sharing the catalogue.
    const registryIds = (): Registries => this.isRegistry ? libp2p.peerId.toString() : this.host?.session.registryIds
    // The registry dials no mesh of its own: every service is connected to it.
    const members = this.isRegistry ? undefined : (): ProviderRecord[] => this.catalog.all().filter(r => isAvailable(r) && r.transport === undefined)
    const mesh = this.mesh = new MeshKeeper({ libp2p, log: this.log.child({ component: 'mesh' }), degree: this.config.meshDegree, intervalMs: MESH_INTERVAL_MS, registryId: registryIds, members })
    const gossip = this.gossip = new CatalogGossip({
      pubsub: libp2p.services.pubsub,
      catalog: this.catalog,
      selfId: this.peerId,
      registryId: registryIds,
      follows: this.following.gossips,
      now: this.now,
      log: this.log.child({ component: 'gossip' }),
      // Events are about what this node requires; the rest of the table is for showing the cluster.
      onChanges: changes => { for (const e of eventsForChanges(changes.filter(c => this.following.keeps(c.record.name)), 'gossip')) this.emitEvent(e) },
      onSelf: record => { this.host?.onSelf(record) },
      onPeerSeen: (peerId, addrs) => { mesh.learn(peerId, addrs) },
      onSuspicion: s => { this.host?.onSuspicion(s) }
    })
    gossip.start()
    mesh.start()
    return { gossip, mesh }
  }

  /** Calls go to this very process when it is the provider, else through the balancer. */
  private startCaller (libp2p: GdsLibp2p): void {
    this.caller = new Caller({
      libp2p,
      source: catalogSource(this.catalog, this.following.keeps, new LookupCache(async s => this.host?.lookup(s) ?? [], this.now)),
      reportSuspect: peerId => { this.hub !== undefined ? this.hub.suspect(peerId) : this.host?.suspect(peerId) },
      local: this.host?.local,
      now: this.now,
      random: this.random
    })
  }

  /** Every node's log goes to the cluster log service (DESIGN.md §6). */
  private startShipping (): void {
    if (this.logTap === undefined) return
    this.shipper = shipNodeLog(this.logTap, this.log, {
      peerId: this.peerId,
      incarnation: this.incarnation,
      // The name it registers under (a module's own name, whatever its file is called): the log service checks it.
      service: this.services[0]?.name ?? this.config.name,
      send: async entries => { await this.call('log', 'append', { entries }, { idempotent: true, timeoutMs: 5_000 }) }
    })
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

  private requireCaller (): Caller {
    if (this.caller === undefined) throw new NotStartedError()
    return this.caller
  }

  private requireStarted (): GdsLibp2p {
    if (this.libp2p === undefined) throw new NotStartedError()
    return this.libp2p
  }
}
