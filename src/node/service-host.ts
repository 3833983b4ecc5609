import { setTimeout as delay } from 'node:timers/promises'
import { localInvoker, type LocalInvoker } from './caller.js'
import { isAvailable } from './catalog.js'
import { RegistryUnreachableError } from './errors.js'
import type { CatalogGossip, Suspicion } from './gossip.js'
import type { GdsLibp2p } from './libp2p.js'
import type { MeshKeeper } from './mesh.js'
import { PeerView } from './peer-view.js'
import { PeerWatch } from './peer-watch.js'
import { Presence } from './presence.js'
import { RegistrySession } from './registry-session.js'
import { RpcServer } from './rpc-server.js'
import type { ProviderRecord } from './schemas.js'
import type { ServiceDefinition } from './service.js'
import { serviceContext, type ServiceContextParts } from './service-context.js'

/** How long a stopping node lets its `leaving` announcement propagate before closing. */
const LEAVE_PROPAGATE_MS = 250

export interface ServiceHostComponents extends Omit<ServiceContextParts, 'peerId' | 'lookup' | 'registryId'> {
  libp2p: GdsLibp2p
  services: ServiceDefinition[]
  incarnation: number
  gossip: Pick<CatalogGossip, 'publish' | 'markDelivered'>
  mesh: Pick<MeshKeeper, 'learn' | 'bootstrap'>
  now: () => number
  /** In [0, 1): the reconnect back-off's jitter. */
  random: () => number
  /** The registry refused this node for good: the node stops with `err`. */
  onFatal?: (err: Error) => void
}

/**
 * The service side of a node (every role but the registry): serves its services' methods,
 * registers them and keeps the session with the registry, announces them on gossip, answers
 * `list` with this peer's own view, and leaves gracefully.
 */
export class ServiceHost {
  readonly session: RegistrySession
  /** This process's services, for calls it makes to itself. */
  readonly local: LocalInvoker
  private readonly rpc: RpcServer
  private readonly presence: Presence
  private readonly peerView: PeerView
  /** Failure verdicts among peers while the registry is out of reach. */
  private readonly watch: PeerWatch

  constructor (private readonly c: ServiceHostComponents) {
    const { libp2p, config, log } = c
    const peerId = libp2p.peerId.toString()
    this.rpc = new RpcServer(libp2p, log.child({ component: 'rpc' }))
    this.local = localInvoker(this.rpc, peerId)
    const presence = this.presence = new Presence({
      services: c.services,
      peerId,
      incarnation: c.incarnation,
      addrs: () => libp2p.getMultiaddrs().map(String),
      gossip: c.gossip,
      pubsub: libp2p.services.pubsub,
      registryUp: () => this.session.isConnected,
      holds: p => c.catalog.ofPeer(p).some(isAvailable),
      reregister: () => { this.session.reregister() },
      now: c.now
    })
    this.session = new RegistrySession({
      libp2p,
      log: log.child({ component: 'session' }),
      now: c.now,
      random: c.random,
      catalog: c.catalog,
      selfId: peerId,
      registry: config.registry,
      registrations: () => presence.registrations(),
      onRegistered: (records, peers, grants) => {
        for (const p of peers) c.mesh.learn(p.peerId, p.addrs)
        presence.adopt(records, grants)
        // Among several registries a re-registration is mostly a failover (same entries, which
        // every peer has); with one, it follows the registry's return and says it again.
        void presence.announce('up', { onlyIfNew: this.session.registryIds.size > 1 })
      },
      onDelivered: (from, batches) => { c.gossip.markDelivered(from, batches) },
      reconnectMinMs: config.reconnectMinMs,
      reconnectMaxMs: config.reconnectMaxMs,
      homeCheckMs: config.homeCheckMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      reapAfterMs: config.reapAfterMs,
      load: () => this.rpc.load,
      emit: c.emit,
      onFatal: c.onFatal
    })
    this.watch = new PeerWatch({
      libp2p,
      catalog: c.catalog,
      registryUp: () => this.session.isConnected,
      required: new Set(c.services.flatMap(s => s.requires ?? [])),
      gossip: c.gossip,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      failureThreshold: config.failureThreshold,
      emit: c.emit,
      log: log.child({ component: 'peer-watch' }),
      now: c.now,
      random: c.random
    })
    this.peerView = new PeerView({ libp2p, catalog: c.catalog, presence, session: this.session, log: log.child({ component: 'peer-view' }), now: c.now })
  }

  async start (): Promise<void> {
    const { services, libp2p } = this.c
    // Services are ready to serve before they are advertised.
    const parts = { ...this.c, peerId: libp2p.peerId.toString(), lookup: async (name: string) => this.session.lookup(name), registryId: () => this.session.registryPeer?.toString() }
    for (const s of services) await s.start?.(serviceContext(parts, s.name))
    await this.rpc.start(services)
    // Before any dialing, so the first peers to join the topic are heard.
    this.presence.start()
    await this.session.start()
    await this.peerView.start()
    await this.watch.start()
    await this.c.mesh.bootstrap(this.c.config.bootstrap)
    void this.presence.announce('up')
  }

  /** Leave first, then stop serving: no caller is sent here once we stop. */
  async stop (): Promise<void> {
    this.presence.stop()
    // A leave the registry takes goes out on both paths from there: patches to the dependents,
    // and one gossip batch for everyone else, which the dependents drop unread. Announced by us
    // as well, every node verified our copy and most got it ahead of the hub's patch, whose
    // reading waited behind that work (the graceful leaves were the fan-out's tail). So we
    // announce only a leave the registry did not take (it is away): gossip alone carries it.
    // gossipsub's publish resolves when the message is queued, not sent: give it time to leave
    // before the connections close (serf's LeavePropagateDelay).
    if (!await this.session.stop()) {
      await this.presence.announce('leaving')
      await delay(LEAVE_PROPAGATE_MS)
    }
    // After the leave, not before: the watch's unhandle updates our protocols, which pushes
    // identify to every connected peer, and the leave waited behind it (1.2 s with 50 peers).
    await this.watch.stop()
    // Calls already in flight finish; then the services stop.
    await this.rpc.stop()
    for (const s of [...this.c.services].reverse()) {
      try { await s.stop?.() } catch (err: any) { this.c.log.error({ err: err?.message, service: s.name }, 'service stop failed') }
    }
    await this.peerView.stop()
  }

  /**
   * The providers of a name this node does not require: the registry's answer, or, while the
   * registry is away, the whole catalogue this node holds (DESIGN.md §4; gossip keeps it).
   */
  async lookup (name: string): Promise<ProviderRecord[]> {
    try {
      return await this.session.lookup(name)
    } catch (err: any) {
      const known = this.c.catalog.providersOf(name)
      if (known.length > 0) return known
      throw new RegistryUnreachableError(`no provider of "${name}" is known: the registry ${this.session.registryPeer?.toString() ?? this.c.config.registry} did not answer (${err?.message ?? err}) and this node's catalogue lists none`, { cause: err })
    }
  }

  /**
   * A call to `peerId` failed (caller.ts): the registry is told; with no registry in reach, this
   * node checks the peer itself.
   */
  suspect (peerId: string): void {
    void this.session.suspect(peerId)
    this.watch.suspect(peerId)
  }

  /** A member's suspicion on gossip: of us, refuted; of another, evidence for our own verdict. */
  onSuspicion (s: Suspicion): void {
    if (s.peerId !== this.c.libp2p.peerId.toString()) this.watch.onSuspicion(s)
    else if (this.presence.refute(s.incarnation, s.seq)) {
      this.watch.refuted()
      this.c.log.info({ accuser: s.accuser }, 'a member suspected this node: refuted on gossip')
    }
  }

  /** Something gossip said about this very node. */
  onSelf (record: ProviderRecord): void {
    if (this.presence.onSelf(record)) this.c.log.warn({ reason: record.reason }, 'the registry declared this node down: refuted')
  }
}
