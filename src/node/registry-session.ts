import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { backoffDelay, jitter } from './backoff.js'
import { describeDialError } from './client.js'
import { fnv1a } from './fnv.js'
import { isAvailable, type Catalog, type Change } from './catalog.js'
import { RegistryUnreachableError, UnauthorizedError } from './errors.js'
import { eventsForChanges, type NodeEvent, type Via } from './events.js'
import type { Logger } from './logger.js'
import { beatEveryMs } from './heartbeat.js'
import { MuxClient } from './mux.js'
import { checkPinned, parseRegistryList, pinnedRegistry } from './registry-pin.js'
import { ECHO_EVERY_BEATS, HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_HEARTBEAT_FRAME, MAX_INBOUND_SESSION_STREAMS, MAX_NOTIFY_FRAME, MAX_REGISTRY_FRAME, MAX_REGISTRY_IN_FLIGHT, NOTIFY_PROTOCOL, REGISTRY_PROTOCOL } from './protocols.js'
import { Channel } from './framing.js'
import { ListAssembler } from './pages.js'
import { deregisterResult, heartbeatFromRegistry, heartbeatProbe, listPage, lookupPage, lookupResult, notifyPatch, registerResult, suspectResult, type Grant, type ProviderRecord, type Registration } from './schemas.js'

/** The parts of the node a session uses: dial the registry, answer its streams, see it go. */
export type SessionLibp2p = Pick<Libp2p, 'dial' | 'dialProtocol' | 'getConnections' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'>

export interface SessionOptions {
  libp2p: SessionLibp2p
  log: Logger
  now: () => number
  /** In [0, 1): the reconnect back-off's jitter. */
  random: () => number
  catalog: Catalog
  /**
   * This node's peer id: its own records are left out of the registry's snapshot, and it picks
   * which of several registries it starts with.
   */
  selfId: string
  /**
   * The registry's multiaddr; with /p2p/<id> its identity is pinned. Several, comma-separated,
   * each pinned: registries sharing one catalogue; this node uses one (chosen by its peer id,
   * so services spread over them) and fails over to the next when it is lost.
   */
  registry: string
  registrations: () => Registration[]
  /** Our entries as the registry holds them, its grants for them (for gossip), after each registration. */
  onRegistered?: (records: ProviderRecord[], peers: Array<{ peerId: string, addrs: string[] }>, grants: Grant[]) => void
  /** The registry `from` says this node now holds every record of these gossip batches (gossip-id.ts). */
  onDelivered?: (from: PeerId, batches: readonly string[]) => void
  reconnectMinMs: number
  reconnectMaxMs: number
  /**
   * Registered away from its home registry (after a failover): how often it asks whether home
   * is back (jittered); after HOME_CHECKS answers in a row it registers there again.
   */
  homeCheckMs: number
  /** How often the registry probes us (the cluster's heartbeat interval): its silence is how a cut shows. */
  heartbeatIntervalMs: number
  reapAfterMs: number
  /** Calls in flight on this node, reported in heartbeat acks. */
  load: () => number
  emit: (e: NodeEvent) => void
  /** The registry refused us for good (NotAllowedError): the session has stopped retrying. */
  onFatal?: (err: Error) => void
}

/** How long a graceful stop waits for the registry to take our deregistration. */
const DEREGISTER_TIMEOUT_MS = 1_000
/**
 * Heartbeat intervals without word from the registry (a probe, or the echo it sends every
 * ECHO_EVERY_BEATS of our pushed beats) before we ask it whether it is still there. A cut
 * (packets dropped, no FIN, no RST) leaves the connection open: libp2p's connection monitor
 * noticed it after 10-13 s. One more interval than the echoes' spacing: one late echo is no sign.
 */
const SILENCE_BEATS = ECHO_EVERY_BEATS + 1
/** The floor of the deadline for that question: a loaded registry answers late, not never. */
const SILENCE_CHECK_MIN_MS = 1_000
/**
 * Home checks in a row that must find the home registry serving before a service moves back:
 * it has been up for at least one check interval, so one that restarts in a loop is left alone.
 */
const HOME_CHECKS = 2
/** The spread of the home checks (±), so a registry back home is not asked by all its services at once. */
const HOME_CHECK_JITTER = 0.25
/** How long a home check may take (dial and lookup, each): a registry slower than that is not ready for us. */
const HOME_CHECK_TIMEOUT_MS = 1_000
/** How long the dial of the standby registry (the next of this node's order) may take. */
const STANDBY_DIAL_TIMEOUT_MS = 5_000

/**
 * A service's link to the registry hub: registers (and re-registers after the registry comes
 * back, with back-off), answers heartbeats, and applies the registry's patches to the node's
 * catalogue. While the registry is away the node keeps serving with the table it has.
 */
export class RegistrySession {
  private readonly addrs: Multiaddr[]
  /** The indexes of `addrs` in the order this node tries them: its home first (registryOrder). */
  private readonly order: number[]
  /** Where in `order` this node is now: 0 at home. */
  private pos = 0
  private homeTimer?: NodeJS.Timeout
  /** The registry a failover would go to, kept connected (warmStandby); and when to dial it again. */
  private standbyId?: PeerId
  private standbyTimer?: NodeJS.Timeout
  /** The whole catalogue was fetched once (syncAll): from then on gossip keeps it current. */
  private synced = false
  /** Home checks in a row that found the home registry serving. */
  private homeChecks = 0
  /** Every pinned registry: patches and grants from any of them count (gossip). */
  private readonly pinned: ReadonlySet<string>
  private registryId?: PeerId
  private connected = false
  private stopped = false
  private attempt = 0
  private retryTimer?: NodeJS.Timeout
  private reapTimer?: NodeJS.Timeout
  private silenceTimer?: NodeJS.Timeout
  /** When the registry last probed us, echoed a beat, or took our registration. */
  private lastProbeAt = 0
  private checkingSilence = false
  private connecting?: Promise<void>
  private readonly firstRegistration = Promise.withResolvers<void>()
  /** Every request to the registry rides one long-lived stream. */
  private readonly requests: MuxClient

  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => {
    if (this.stopped) return
    if (this.standbyId?.equals(e.detail) === true && !e.detail.equals(this.registryId)) this.scheduleStandby()
    if (this.registryId === undefined || !e.detail.equals(this.registryId)) return
    this.lost('connection-closed')
  }

  constructor (private readonly opts: SessionOptions) {
    this.requests = new MuxClient(opts.libp2p, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: MAX_REGISTRY_IN_FLIGHT })
    this.addrs = parseRegistryList(opts.registry)
    this.order = registryOrder(opts.selfId, this.addrs)
    this.registryId = pinnedRegistry(this.addr)
    this.pinned = new Set(this.addrs.flatMap(a => pinnedRegistry(a)?.toString() ?? []))
  }

  private get addr (): Multiaddr { return this.addrs[this.order[this.pos]] }

  /** The next registry of this node's order (after a loss or a failed dial); the same one when there is one. */
  private failOver (): void {
    if (this.addrs.length === 1) return
    this.pos = (this.pos + 1) % this.addrs.length
    this.registryId = pinnedRegistry(this.addr)
  }

  get registryPeer (): PeerId | undefined { return this.registryId }
  /** Every registry whose word counts: the pinned ones, or the one learnt. */
  get registryIds (): ReadonlySet<string> {
    return this.pinned.size > 0 || this.registryId === undefined ? this.pinned : new Set([this.registryId.toString()])
  }
  get isConnected (): boolean { return this.connected }
  /** When the registry last probed us or took our registration (epoch ms); 0: never. */
  get lastContactAt (): number { return this.lastProbeAt }

  async start (): Promise<void> {
    await this.opts.libp2p.handle([HEARTBEAT_PUSH_PROTOCOL, HEARTBEAT_PROTOCOL], (stream, connection) => { void this.answerHeartbeats(stream, connection) },
      { maxInboundStreams: MAX_INBOUND_SESSION_STREAMS })
    await this.opts.libp2p.handle(NOTIFY_PROTOCOL, (stream, connection) => { void this.readPatches(stream, connection) },
      { maxInboundStreams: MAX_INBOUND_SESSION_STREAMS })
    this.opts.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const every = Math.max(100, Math.min(5_000, Math.floor(this.opts.reapAfterMs / 4)))
    this.reapTimer = setInterval(() => { this.report(this.opts.catalog.reap(this.opts.now(), this.opts.reapAfterMs), 'hub') }, every)
    this.reapTimer.unref()
    this.silenceTimer = setInterval(() => { void this.checkSilence() }, this.opts.heartbeatIntervalMs)
    this.silenceTimer.unref()
    this.scheduleConnect(0)
  }

  /** Resolves once the first registration has been accepted (never rejects; see events). */
  async registered (): Promise<void> { return this.firstRegistration.promise }

  /** Graceful leave: tell the registry we are going, within a short deadline. Resolves true if it took our deregistration. */
  async stop (): Promise<boolean> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    clearTimeout(this.homeTimer)
    clearTimeout(this.standbyTimer)
    clearInterval(this.reapTimer)
    clearInterval(this.silenceTimer)
    this.opts.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    // A registration in flight may still land (a node stopped right after it started): wait for
    // it, briefly, so what it registers is deregistered, not left to look like a crash.
    if (this.connecting !== undefined) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.connecting, new Promise(resolve => { timer = setTimeout(resolve, DEREGISTER_TIMEOUT_MS) })])
      clearTimeout(timer)
    }
    const names = this.opts.registrations().map(r => r.name)
    let deregistered = false
    if (this.connected && this.registryId !== undefined && names.length > 0) {
      deregistered = await this.requests.request(this.registryId, { op: 'deregister', names }, deregisterResult, { timeoutMs: DEREGISTER_TIMEOUT_MS }).then(() => true, (err: any) => {
        this.opts.log.warn({ err: err?.message }, 'could not deregister')
        return false
      })
    }
    this.requests.close()
    await this.opts.libp2p.unhandle([HEARTBEAT_PUSH_PROTOCOL, HEARTBEAT_PROTOCOL]).catch(() => {})
    await this.opts.libp2p.unhandle(NOTIFY_PROTOCOL).catch(() => {})
    return deregistered
  }

  /** Registers again at once (after refuting an accusation, or a change of our entries). */
  reregister (): void {
    if (this.stopped || this.connecting !== undefined) return
    this.scheduleConnect(0)
  }

  /** The registry's entries for a name (for services this node does not require). */
  async lookup (name: string): Promise<ProviderRecord[]> {
    if (this.registryId === undefined || !this.connected) throw new RegistryUnreachableError('not connected to the registry')
    return (await this.requests.request(this.registryId, { op: 'lookup', name }, lookupResult)).providers
  }

  /** Tell the registry a provider failed a call, so it probes that peer now. */
  async suspect (peerId: string): Promise<void> {
    if (this.registryId === undefined || !this.connected) return
    await this.requests.request(this.registryId, { op: 'suspect', peerId }, suspectResult).catch(() => {})
  }

  /** The providers of every name, in pages: what a register answer too big for a frame left out. */
  private async lookupAll (registry: PeerId, names: readonly string[]): Promise<ProviderRecord[]> {
    const out: ProviderRecord[] = []
    for (const name of new Set(names)) {
      for await (const page of this.requests.stream(registry, { op: 'lookup', name, stream: true }, lookupPage)) for (const r of page) out.push(r)
    }
    return out
  }

  /**
   * The registry's whole catalogue, after each registration, so this node can show the whole
   * cluster while the registry is away (DESIGN.md §4); gossip keeps it current from then on.
   * In pages, after the registration: it never delays one. It brings no events: those are
   * about the names this node requires, which it leaves alone (below).
   */
  private async syncAll (registry: PeerId, required: ReadonlySet<string>): Promise<void> {
    const whole = new ListAssembler()
    try {
      for await (const page of this.requests.stream(registry, { op: 'list', stream: true }, listPage)) whole.add(page)
    } catch (err: any) {
      // Best effort: the required names are current already, gossip brings the rest.
      this.opts.log.debug({ err: err?.message }, 'could not fetch the registry\'s whole catalogue')
      return
    }
    if (this.stopped || !registry.equals(this.registryId)) return
    this.synced = true
    const { catalog, selfId } = this.opts
    // The names we require are left out: the register answer made them current and the hub's
    // patches keep them so. The pages may have been read before a patch that came since (two
    // streams), and must not undo it (a provider that left, back `up` for a moment).
    // `registry` belongs to the listing (who probes the entry), not to the entry: not kept.
    const records = (whole.result()?.services ?? []).filter(r => r.peerId !== selfId && !required.has(r.name)).map(({ registry: _, ...r }) => r)
    const names = [...new Set([...catalog.names(), ...records.map(r => r.name)])].filter(n => !required.has(n))
    this.resync(names, records)
  }

  /**
   * What a registry answered about `names`, into the table. One registry is the authority: its
   * answer is current by construction (and, having lost its data, must not be out-voted by the
   * seqs we remember), so it replaces ours. Registries sharing a catalogue each see the others'
   * changes a little late: the one answering may be behind what another already told us (a
   * live provider's `up` after the `suspect` it still holds), so there the newer version wins,
   * and an entry missing from its answer is not removed (this node reaps on its own clock).
   */
  private resync (names: readonly string[], records: readonly ProviderRecord[]): Change[] {
    const { catalog } = this.opts
    const now = this.opts.now()
    if (this.addrs.length === 1) return catalog.resync(names, records, now)
    return records.flatMap(r => catalog.apply(r, 'registry', now).change ?? [])
  }

  private scheduleConnect (delayMs?: number): void {
    if (this.stopped) return
    clearTimeout(this.retryTimer)
    const delay = delayMs ?? backoffDelay(this.attempt, this.opts.reconnectMinMs, this.opts.reconnectMaxMs, this.opts.random())
    this.retryTimer = setTimeout(() => { this.connecting ??= this.connect().finally(() => { this.connecting = undefined }) }, delay)
    this.retryTimer.unref()
  }

  private async connect (): Promise<void> {
    if (this.stopped) return
    // Registered with a registry of this catalogue a moment ago: the table is current (its
    // patches, then gossip), and paging through the whole catalogue again only loads the
    // registry that takes a dead one's services, all at once.
    const current = this.addrs.length > 1 && this.synced && this.opts.now() - this.lastProbeAt <= SILENCE_BEATS * this.opts.heartbeatIntervalMs
    try {
      const connection = await this.dialRegistry()
      const regs = this.opts.registrations()
      // A node that provides nothing (a plain client) only needs the connection.
      const result = regs.length === 0
        ? { records: [], providers: [], peers: [], grants: [] }
        : await this.requests.request(connection.remotePeer, { op: 'register', services: regs }, registerResult)
      // The registry holds our entries now, stopping or not: stop() deregisters them.
      this.connected = true
      this.lastProbeAt = this.opts.now()
      if (this.stopped) return
      const providers = result.providersOmitted === true ? await this.lookupAll(connection.remotePeer, regs.flatMap(r => r.requires)) : result.providers
      this.attempt = 0
      this.opts.onRegistered?.(result.records, result.peers, result.grants)
      const required = [...new Set(regs.flatMap(r => r.requires))]
      this.report(this.resync(required, providers), 'register')
      const missing = required.filter(n => !this.opts.catalog.providersOf(n).some(isAvailable))
      this.opts.emit({
        event: 'registered',
        names: regs.map(r => r.name),
        registry: connection.remotePeer.toString(),
        providers: providers.map(p => ({ name: p.name, peerId: p.peerId, status: p.status })),
        missing,
        meshSeed: result.peers.map(p => p.peerId)
      })
      if (missing.length > 0) this.opts.emit({ event: 'degraded', missing })
      this.firstRegistration.resolve()
      this.scheduleHomeCheck()
      this.warmStandby()
      if (!current) void this.syncAll(connection.remotePeer, new Set(required))
    } catch (err: any) {
      if (this.stopped) return
      if (err?.name === 'NotAllowedError') {
        // The access policy will not change by asking again: final, the node stops with it.
        this.opts.emit({ event: 'registration-refused', error: err.message })
        this.opts.onFatal?.(err)
        return
      }
      const error = err?.name === 'RegistryUnreachableError' || err?.name === 'UnauthorizedError' ? err.message : `${err?.name ?? 'Error'}: ${err?.message ?? err}`
      const delayMs = backoffDelay(this.attempt, this.opts.reconnectMinMs, this.opts.reconnectMaxMs, this.opts.random())
      this.attempt++
      this.opts.emit({ event: 'registry-retry', attempt: this.attempt, delayMs, error })
      // With several registries, the next one is tried at once; back-off once each has failed.
      const tryNext = this.addrs.length > 1 && this.attempt % this.addrs.length !== 0
      this.failOver()
      this.scheduleConnect(tryNext ? 0 : delayMs)
    }
  }

  /**
   * The registry has not probed us for SILENCE_BEATS intervals: ask it something on our stream.
   * No answer in time means we are cut off from it (it has most likely declared us down by
   * now): drop the connection, so the session says so and reconnects on a fresh one, rather
   * than waiting for TCP or the connection monitor to give up on it.
   */
  private async checkSilence (): Promise<void> {
    const { heartbeatIntervalMs } = this.opts
    const names = this.opts.registrations().map(r => r.name)
    const registry = this.registryId
    if (!this.connected || this.checkingSilence || this.stopped || registry === undefined || names.length === 0) return
    if (this.opts.now() - this.lastProbeAt <= SILENCE_BEATS * heartbeatIntervalMs) return
    this.checkingSilence = true
    try {
      await this.requests.request(registry, { op: 'lookup', name: names[0] }, lookupResult, { timeoutMs: Math.max(heartbeatIntervalMs, SILENCE_CHECK_MIN_MS) })
      // It answers but does not probe us (it may be probing a down peer slowly): nothing is cut.
      this.lastProbeAt = this.opts.now()
    } catch (err: any) {
      if (this.stopped || !this.connected || !registry.equals(this.registryId)) return
      this.opts.log.warn({ err: err?.message }, 'the registry stopped probing us and does not answer: dropping the connection')
      this.lost('heartbeat-silence')
      for (const c of this.opts.libp2p.getConnections(registry)) c.abort(new Error('the registry does not answer'))
    } finally {
      this.checkingSilence = false
    }
  }

  /** The registry is gone (for now): say so once, and reconnect with back-off. */
  private lost (reason: string): void {
    if (!this.connected || this.registryId === undefined) return
    this.connected = false
    clearTimeout(this.homeTimer)
    this.homeChecks = 0
    this.requests.close()
    this.opts.emit({ event: 'registry-lost', registry: this.registryId.toString(), reason })
    this.attempt = 0
    if (this.addrs.length > 1) {
      // Another registry holds the same catalogue: re-register there now (same incarnation,
      // so it is the same entry, unchanged), within the failover target of a second.
      this.failOver()
      this.scheduleConnect(0)
      return
    }
    this.scheduleConnect()
  }

  /**
   * Keeps a connection to the registry this node would fail over to (the next of its order), so
   * a failover costs one register request, not a dial and a handshake: with a dead registry's
   * services all dialling the survivors at once, the handshakes were most of the second.
   * Dialled again (jittered homeCheckMs) while that registry is out of reach.
   */
  private warmStandby (): void {
    clearTimeout(this.standbyTimer)
    if (this.addrs.length === 1 || this.stopped) return
    const next = this.addrs[this.order[(this.pos + 1) % this.addrs.length]]
    this.standbyId = pinnedRegistry(next)
    void this.opts.libp2p.dial(next, { signal: AbortSignal.timeout(STANDBY_DIAL_TIMEOUT_MS) }).then(async connection => {
      try {
        checkPinned(next, connection.remotePeer)
      } catch (err: any) {
        this.opts.log.warn({ err: err?.message }, 'the standby registry is not the pinned one')
        await connection.close().catch(() => {})
      }
    }, () => { this.scheduleStandby() })
  }

  private scheduleStandby (): void {
    clearTimeout(this.standbyTimer)
    if (this.stopped) return
    this.standbyTimer = setTimeout(() => { if (this.connected) this.warmStandby() }, jitter(this.opts.homeCheckMs, HOME_CHECK_JITTER, this.opts.random()))
    this.standbyTimer.unref()
  }

  /** Away from home: ask again later whether it is back. */
  private scheduleHomeCheck (): void {
    clearTimeout(this.homeTimer)
    if (this.pos === 0 || this.stopped) return
    this.homeTimer = setTimeout(() => { void this.checkHome() }, jitter(this.opts.homeCheckMs, HOME_CHECK_JITTER, this.opts.random()))
    this.homeTimer.unref()
  }

  /**
   * Whether the home registry is back and serving: it answers a lookup of our first name with
   * our entry (it has the shared catalogue, it is not starting). After HOME_CHECKS such answers
   * in a row, register there again, as the same entry (same incarnation): the registry we leave
   * lets go when home claims us, and no dependent sees a change.
   */
  private async checkHome (): Promise<void> {
    if (this.stopped || !this.connected || this.pos === 0 || this.connecting !== undefined) return
    const home = this.addrs[this.order[0]]
    const name = this.opts.registrations()[0]?.name
    // Its own stream: the session's one stays on the registry we are registered with.
    const asking = new MuxClient(this.opts.libp2p, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: 1 })
    let homeId: PeerId | undefined
    try {
      const connection = await this.opts.libp2p.dial(home, { signal: AbortSignal.timeout(HOME_CHECK_TIMEOUT_MS) })
      checkPinned(home, connection.remotePeer)
      const serving = name === undefined ||
        (await asking.request(connection.remotePeer, { op: 'lookup', name }, lookupResult, { timeoutMs: HOME_CHECK_TIMEOUT_MS })).providers.some(p => p.peerId === this.opts.selfId)
      if (serving) homeId = connection.remotePeer
    } catch {
      // Not back yet.
    } finally {
      asking.close()
    }
    if (this.stopped || !this.connected || this.pos === 0 || this.connecting !== undefined) return
    this.homeChecks = homeId === undefined ? 0 : this.homeChecks + 1
    if (homeId === undefined || this.homeChecks < HOME_CHECKS) {
      this.scheduleHomeCheck()
      return
    }
    this.homeChecks = 0
    this.opts.emit({ event: 'registry-home', registry: homeId.toString(), from: this.registryId?.toString() ?? '' })
    this.pos = 0
    this.registryId = homeId
    this.requests.close()
    this.scheduleConnect(0)
  }

  private async dialRegistry (): Promise<Connection> {
    let connection: Connection
    try {
      connection = await this.opts.libp2p.dial(this.addr, { signal: AbortSignal.timeout(5_000) })
    } catch (err: any) {
      throw new RegistryUnreachableError(`cannot reach the registry at ${this.addr.toString()}: ${describeDialError(err)}`, { cause: err })
    }
    const remote = connection.remotePeer
    try {
      checkPinned(this.addr, remote)
    } catch (err) {
      await connection.close().catch(() => {})
      throw err
    }
    // Not pinned: the first registry we reach is the one, and one that comes back as another.
    if (this.registryId === undefined) {
      this.registryId = remote
      this.opts.emit({ event: 'registry-learnt', registry: remote.toString(), hint: `pin it: --registry ${this.addr.toString()}/p2p/${remote.toString()}` })
    } else if (!remote.equals(this.registryId)) {
      this.opts.log.warn({ was: this.registryId.toString(), now: remote.toString() }, 'the registry came back with a new identity')
      this.registryId = remote
    }
    return connection
  }

  private async answerHeartbeats (stream: Stream, connection: Connection): Promise<void> {
    const fromRegistry = this.registryId?.equals(connection.remotePeer) === true
    await answerProbes(stream, () => {
      const missing = this.opts.registrations().some(r => r.requires.some(n => !this.opts.catalog.providersOf(n).some(isAvailable)))
      return { health: missing ? 'degraded' : 'ok', load: this.opts.load() }
    // Only the registry's word is its beat, and only to the registry do we push ours.
    }, fromRegistry ? { onContact: () => { this.lastProbeAt = this.opts.now() }, pushEveryMs: beatEveryMs(this.opts.heartbeatIntervalMs) } : {}).catch((err: any) => {
      if (err?.name === 'InvalidMessageError' || err?.name === 'FrameTooLargeError') {
        this.opts.log.warn({ peer: connection.remotePeer.toString(), err: err.message }, 'bad heartbeat frame')
      }
    })
  }

  private async readPatches (stream: Stream, connection: Connection): Promise<void> {
    const ch = new Channel(stream, MAX_NOTIFY_FRAME)
    const from = connection.remotePeer
    if (this.registryId === undefined || !from.equals(this.registryId)) {
      this.opts.log.warn({ peer: from.toString() }, 'rejected a notify stream from a peer that is not the registry')
      ch.abort(new UnauthorizedError('only the registry may send patches'))
      return
    }
    try {
      for (;;) {
        const patch = await ch.read(notifyPatch)
        const now = this.opts.now()
        const changes: Change[] = []
        for (const record of patch.records) {
          const { change } = this.opts.catalog.apply(record, 'registry', now)
          if (change !== undefined) changes.push(change)
        }
        this.report(changes, 'hub')
        if (patch.delivered !== undefined) this.opts.onDelivered?.(from, patch.delivered)
      }
    } catch (err: any) {
      if (err?.name === 'InvalidMessageError' || err?.name === 'FrameTooLargeError') {
        this.opts.log.warn({ peer: from.toString(), err: err.message }, 'bad patch from the registry')
      }
      ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private report (changes: Change[], via: Via): void {
    for (const e of eventsForChanges(changes, via)) this.opts.emit(e)
  }
}

/** The registry a peer starts with: a hash of its id, so services spread evenly over them. */
export function homeIndex (peerId: string, count: number): number {
  return fnv1a(peerId) % count
}

export interface AnswerOptions {
  /** A probe or an echo came: the prober is alive and reaches us. */
  onContact?: () => void
  /** On a HEARTBEAT_PUSH_PROTOCOL stream, push a beat this often (to the registry only). */
  pushEveryMs?: number
}

/**
 * The order a peer tries the registries in: its home (homeIndex) first, then the others by a
 * hash of (its id, their address), so when a registry dies its services spread over the
 * survivors instead of all landing on the next one of the list.
 */
export function registryOrder (peerId: string, addrs: readonly Multiaddr[]): number[] {
  const home = homeIndex(peerId, addrs.length)
  const rank = (i: number): number => fnv1a(`${peerId}/${addrs[i].toString()}`)
  const others = addrs.map((_, i) => i).filter(i => i !== home).sort((a, b) => rank(a) - rank(b) || a - b)
  return [home, ...others]
}

/**
 * A provider's side of a heartbeat stream: each probe is answered with an ack carrying health
 * and load, until the stream ends or breaks (then it is aborted and the error thrown). On
 * HEARTBEAT_PUSH_PROTOCOL with `pushEveryMs`, it also pushes a beat every interval, asking for
 * an echo every ECHO_EVERY_BEATS: with no probes coming, the echoes are the sign that the
 * registry is alive. Exported so lightweight peers (the benches) answer exactly as a service does.
 */
export async function answerProbes (stream: Stream, status: () => { health: 'ok' | 'degraded', load: number }, opts: AnswerOptions = {}): Promise<void> {
  const ch = new Channel(stream, MAX_HEARTBEAT_FRAME)
  const push = opts.pushEveryMs !== undefined && stream.protocol === HEARTBEAT_PUSH_PROTOCOL
  let beats = 0
  const timer = push
    ? setInterval(() => {
      beats++
      void ch.send({ type: 'beat', ...status(), ...(beats % ECHO_EVERY_BEATS === 0 ? { echo: beats } : {}) }).catch(() => {})
    }, opts.pushEveryMs)
    : undefined
  timer?.unref()
  try {
    for (;;) {
      const msg = await ch.read(push ? heartbeatFromRegistry : heartbeatProbe)
      opts.onContact?.()
      if (msg.type === 'probe') await ch.write({ type: 'ack', id: msg.id, ...status() })
    }
  } catch (err: any) {
    ch.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  } finally {
    clearInterval(timer)
  }
}
