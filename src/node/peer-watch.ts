import type { PeerId } from '@libp2p/interface'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { compareVersion, isAvailable, type Catalog, type Change } from './catalog.js'
import { PEER_VERDICTS } from './config.js'
import { eventsForChanges, type NodeEvent } from './events.js'
import type { CatalogGossip, Suspicion } from './gossip.js'
import type { FailureReason } from './heartbeat.js'
import type { GdsLibp2p } from './libp2p.js'
import type { Logger } from './logger.js'
import { shuffle } from './mesh.js'
import { ProbeFailure, HeartbeatLink } from './heartbeat-link.js'
import { LocalHealth } from './local-health.js'
import { askToCheck, serveChecks, type CheckResult } from './peer-check.js'
import { PeerVerdicts, type Version } from './peer-verdicts.js'
import { ProbeOrder, providersToCheck } from './probe-order.js'
import { CHECK_PROTOCOL } from './protocols.js'
import { TimerWheel } from './timer-wheel.js'
import { TokenBuckets } from './token-buckets.js'

export interface PeerWatchOptions {
  libp2p: GdsLibp2p
  catalog: Catalog
  /** Whether this node has its registry session up: while it has, the registry judges, not us. */
  registryUp: () => boolean
  /** Names this node requires: a suspicion of their providers is checked at once, and their changes are events. */
  required: ReadonlySet<string>
  gossip: Pick<CatalogGossip, 'publish'>
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
  /** Misses in a row that make our own check a failure (a refused dial is one at once). */
  failureThreshold: number
  emit: (e: NodeEvent) => void
  log: Logger
  now: () => number
  random: () => number
}

/** One token per gap: at most one event of a kind per peer per gap (buckets of burst 1). */
function onePer (gapMs: number): TokenBuckets {
  return new TokenBuckets({ burst: 1, ratePerSec: 1000 / gapMs, maxPeers: PEER_VERDICTS.checkBudget.maxPeers })
}

/**
 * Failure detection among peers while this node has no registry session (DESIGN.md §4), at
 * SWIM's cost: each beat it checks ONE member it is connected to (src/node/probe-order.ts), and
 * a provider's dependents together check it about PEER_VERDICTS.dependentChecks times, so the
 * cluster sends N probes a beat plus a few per provider, whatever each node requires. It checks
 * a peer at once on a sign that costs nothing per beat: a closed connection, a refused dial, a
 * failed call, or another member's suspicion of a provider it requires. It asks a few members
 * to check a peer its own check failed (SWIM's ping-req), hears other members' suspicions on
 * gossip, and lets src/node/peer-verdicts.ts decide. Its own health (src/node/local-health.ts)
 * stretches its timeouts and keeps it from gossiping unconfirmed suspicions while it is the
 * slow one. A verdict is local: the entries go `down` in this node's catalogue (authority
 * `peers`) and its dependents' events say `via: "peers"`.
 */
export class PeerWatch {
  private readonly verdicts = new PeerVerdicts({ quorum: PEER_VERDICTS.quorum, evidenceTtlMs: PEER_VERDICTS.evidenceTtlMs })
  /** Checks in flight, one per peer. */
  private readonly checking = new Map<string, Promise<void>>()
  /** A suspicion makes us check the accused ourselves, at most once per gap per accused. */
  private readonly rechecks = onePer(PEER_VERDICTS.recheckGapMs)
  /** A peer we declared down but now reach is told so (it refutes), at most once per gap. */
  private readonly reminders = onePer(PEER_VERDICTS.refuteGapMs)
  /** Our refutations count against our health at most once per gap (forged suspicions are free to send). */
  private readonly refutations = onePer(PEER_VERDICTS.refuteGapMs)
  private readonly order: ProbeOrder
  private readonly health: LocalHealth
  /** Our event loop's stalls, sampled while we judge (a timer every 20 ms: not while the registry does). */
  private readonly loop = monitorEventLoopDelay({ resolution: 20 })
  private sampling = false
  /** A heartbeat stream to each peer we check (every node answers probes on it). */
  private readonly links = new Map<string, HeartbeatLink>()
  /** The deadlines of their probes. */
  private readonly wheel = new TimerWheel()
  /** Why our own check of a peer last failed (for the verdict's reason), by peer. */
  private readonly causes = new Map<string, FailureReason>()
  private timer?: NodeJS.Timeout
  private stopped = false
  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => {
    const peer = e.detail.toString()
    if (this.active && this.isMember(peer)) void this.judge(peer, 'connection-closed')
  }

  constructor (private readonly o: PeerWatchOptions) {
    this.order = new ProbeOrder(o.random)
    const { maxScore, slowLoopShare, recoverBeats } = PEER_VERDICTS.health
    this.health = new LocalHealth({ maxScore, slowLoopMs: slowLoopShare * o.heartbeatTimeoutMs, recoverMs: recoverBeats * o.heartbeatIntervalMs })
  }

  private get selfId (): string { return this.o.libp2p.peerId.toString() }

  async start (): Promise<void> {
    const { libp2p, catalog } = this.o
    await serveChecks({
      libp2p,
      isMember: p => this.isMember(p),
      knows: p => catalog.ofPeer(p).length > 0,
      check: async p => this.check(p),
      now: this.o.now,
      log: this.o.log
    })
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.timer = setInterval(() => { this.beat() }, this.o.heartbeatIntervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.sample(false)
    this.o.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.closeLinks(() => false)
    this.wheel.stop()
    await this.o.libp2p.unhandle(CHECK_PROTOCOL).catch(() => {})
  }

  /** A call to `peerId` failed (caller.ts): check it now, if we judge at all. */
  suspect (peerId: string): void {
    if (this.active && this.isMember(peerId)) void this.judge(peerId, 'suspect-report')
  }

  /**
   * Another member's suspicion (gossip, already validated: its author is a member, not the
   * accused). One peer's word is a reason to look, never a verdict: a dependent of the accused
   * checks it itself, once (the accuser's own check already took `failureThreshold` misses);
   * the others keep the word as evidence and leave the checking to their round.
   */
  onSuspicion (s: Suspicion): void {
    if (!this.active) return
    const held = this.held(s.peerId)
    if (held === undefined) return
    const outcome = this.verdicts.accused(s.peerId, s, held, s.accuser, this.o.now(), true)
    if (outcome === 'down') this.declare(s.peerId, held)
    else if (outcome === 'noted' && this.requires(s.peerId) && this.rechecks.take(s.peerId, 1, this.o.now()) === 0) void this.judge(s.peerId, undefined, true)
  }

  /** We refuted a member's suspicion of us: a sign that we are the slow one. */
  refuted (): void {
    const now = this.o.now()
    if (this.active && this.refutations.take(this.selfId, 1, now) === 0) this.health.refuted(now)
  }

  /** Judging only while we have no registry session; when it returns, it decides again. */
  private get active (): boolean {
    if (this.stopped) return false
    if (!this.o.registryUp()) return true
    if (this.verdicts.size > 0 || this.links.size > 0) {
      this.verdicts.clear()
      this.causes.clear()
      this.closeLinks(() => false)
    }
    return false
  }

  private isMember (peerId: string): boolean {
    return peerId !== this.selfId && this.o.catalog.ofPeer(peerId).some(r => isAvailable(r) && r.transport === undefined)
  }

  /** A peer that provides a name this node requires. */
  private requires (peerId: string): boolean {
    return this.o.catalog.ofPeer(peerId).some(r => this.o.required.has(r.name))
  }

  /**
   * Each beat: one member in SWIM's order among those we are connected to, a few of the
   * providers we require (providersToCheck), and those we declared down (one that answers again
   * is told, so it refutes). Connected ones only: over libp2p a probe of any other costs a dial
   * (a handshake at both ends, and an announcement to each new topic peer: the gossip-cost
   * bench's window had 8 dials and 290 announcement copies from them), where SWIM's UDP costs
   * nothing; every member keeps --mesh-degree connections, so its neighbours probe it, and a
   * connection that closes is checked at once. Our event loop's longest stall of the beat goes
   * to our health.
   */
  private beat (): void {
    const active = this.active
    if (this.sampling && active) this.health.loopDelay(this.loop.max / 1e6, this.o.now())
    this.sample(active)
    if (!active) return
    const members = new Set(this.o.libp2p.getPeers().map(String).filter(p => this.isMember(p)))
    const declared = this.verdicts.declaredPeers().filter(p => this.requires(p))
    this.closeLinks(p => this.isMember(p) || declared.includes(p))
    const targets = new Set([...declared, ...providersToCheck(this.o.required, this.o.catalog, p => this.isMember(p), PEER_VERDICTS.dependentChecks, this.o.random)])
    const next = this.order.next(members)
    if (next !== undefined) targets.add(next)
    for (const t of targets) void this.judge(t)
  }

  /** Samples the event loop's stalls from now on (a fresh window), or stops. */
  private sample (on: boolean): void {
    if (on && !this.sampling) this.loop.enable()
    if (!on && this.sampling) this.loop.disable()
    this.sampling = on
    this.loop.reset()
  }

  /** Our check timeout, stretched while we are the slow one. */
  private timeoutMs (): number {
    return this.health.scale(this.o.heartbeatTimeoutMs, this.o.now())
  }

  /** The version this node holds of a peer's entries (the newest), if there is anything to judge. */
  private held (peerId: string): Version | undefined {
    const entries = this.o.catalog.ofPeer(peerId).filter(r => r.status !== 'leaving' && r.transport === undefined)
    if (entries.length === 0) return undefined
    const top = entries.reduce((a, b) => compareVersion(a, b) >= 0 ? a : b)
    const version = { incarnation: top.incarnation, seq: top.seq }
    return entries.some(isAvailable) || this.verdicts.declared(peerId, version) ? version : undefined
  }

  /**
   * A direct check: a probe on our heartbeat stream to the peer, answered within the heartbeat
   * timeout as our health stretches it (opening the stream, and dialling, included). A dead
   * process refuses the dial at once; a SIGSTOP'd one has its TCP connection taken by the kernel
   * and never answers, so the deadline decides. (A libp2p ping opens a stream per check, one at a time per connection:
   * concurrent checks of one peer failed each other.)
   */
  private async check (peerId: string): Promise<CheckResult> {
    try {
      await (await this.linkTo(peerId)).roundTrip(this.timeoutMs())
      this.health.answered(this.o.now())
      return { ok: true }
    } catch (err) {
      return { ok: false, reason: err instanceof ProbeFailure ? err.reason : 'unreachable' }
    }
  }

  private async linkTo (peerId: string): Promise<HeartbeatLink> {
    let link = this.links.get(peerId)
    if (link !== undefined) return link
    const { libp2p } = this.o
    const peer = peerIdFromString(peerId)
    // Not connected yet: the dial needs the addresses its catalogue entries give.
    if (libp2p.getConnections(peer).length === 0) {
      const addrs = this.o.catalog.ofPeer(peerId)[0]?.addrs ?? []
      await libp2p.peerStore.merge(peer, { multiaddrs: addrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } }) })
    }
    // Our stream to it broke: if it is gone, find out now, not at the next beat.
    link = this.links.get(peerId) ?? new HeartbeatLink(libp2p, peer, this.wheel, this.o.now, this.o.log, () => { if (this.active && this.isMember(peerId)) void this.judge(peerId, 'connection-closed') })
    this.links.set(peerId, link)
    return link
  }

  /** Streams to peers we no longer check (left, reaped, or every one once the registry is back). */
  private closeLinks (keep: (peerId: string) => boolean): void {
    for (const [p, link] of this.links) {
      if (keep(p)) continue
      link.close('no longer checked')
      this.links.delete(p)
    }
  }

  /** `corroborating`: a check of another member's suspicion, where one miss is our failure. */
  private async judge (peerId: string, cause?: FailureReason, corroborating = false): Promise<void> {
    const running = this.checking.get(peerId)
    if (running !== undefined) return running
    const p = this.judgeNow(peerId, cause, corroborating).catch((err: any) => { this.o.log.warn({ peer: peerId, err: err?.message }, 'peer check failed') })
      .finally(() => { this.checking.delete(peerId) })
    this.checking.set(peerId, p)
    return p
  }

  private async judgeNow (peerId: string, cause: FailureReason | undefined, corroborating: boolean): Promise<void> {
    const held = this.held(peerId)
    if (held === undefined) return
    const declared = this.verdicts.declared(peerId, held)
    let result = await this.check(peerId)
    if (!this.active) return
    if (result.ok) return this.reached(peerId, held, declared)
    if (declared) return
    // As the registry's heartbeat: `failureThreshold` misses in a row (one late answer on a
    // loaded host is not a failure), one refused dial, or one miss confirming another's word.
    const refused = result.reason === 'refused'
    const misses = refused || corroborating ? 1 : this.o.failureThreshold
    // SWIM's ping-req, asked at our first miss while our own further probes go on (memberlist
    // asks at its first timeout): the helpers' answers are in by the time our last miss is.
    let asked = misses > 1 ? this.askHelpers(peerId) : undefined
    for (let miss = 1; !result.ok && miss < misses && this.active; miss++) result = await this.check(peerId)
    if (!this.active) return
    if (result.ok) return this.reached(peerId, held, false)
    this.causes.set(peerId, cause ?? result.reason)
    if (this.verdicts.ownCheck(peerId, held, false, this.o.now()) === 'down') {
      this.declare(peerId, held)
      return
    }
    asked ??= this.askHelpers(peerId)
    // Any member that reaches it clears our failure. After a refused dial (the process is gone:
    // the registry needs no second opinion on it) the first member that confirms completes the
    // verdict; after a timeout, every answer is awaited, so a member that still reaches it has its say.
    const unreachable: string[] = []
    let alive = false
    let answering = 0
    await Promise.all(asked.map(async answer => {
      const { helper, reachable } = await answer
      if (reachable === undefined) return
      answering++
      if (reachable) { alive = true; this.verdicts.vouched(peerId, held); return }
      unreachable.push(helper)
      if (refused && !alive && this.active && this.verdicts.accused(peerId, held, held, helper, this.o.now()) === 'down') this.declare(peerId, held)
    }))
    const now = this.o.now()
    this.health.indirect(asked.length, answering, now)
    this.o.log.info({ peer: peerId, asked: asked.length, unreachable: unreachable.length, alive }, 'indirect check answered')
    if (!this.active || alive) return
    if (!refused) {
      // Every answer is in and none reached it.
      let down = false
      for (const h of unreachable) if (this.verdicts.accused(peerId, held, held, h, now) === 'down') down = true
      if (down) this.declare(peerId, held)
    }
    // Others may not have noticed (no connection to it, a SIGSTOP): say so, unless enough have.
    // While we are the slow one (Lifeguard), our timeouts may be our own stalls: we say so only
    // with another member's confirmation. A refused dial is no matter of timing.
    const credible = refused || unreachable.length > 0 || this.health.healthy(now)
    if (credible && this.verdicts.gossipedAccusers(peerId, held, now) < PEER_VERDICTS.enoughGossiped) this.publish(peerId, held)
  }

  /** Our check reached it: our failure no longer counts; declared down here, it is told so (it refutes). */
  private reached (peerId: string, held: Version, declared: boolean): void {
    this.verdicts.ownCheck(peerId, held, true, this.o.now())
    this.causes.delete(peerId)
    if (declared && this.reminders.take(peerId, 1, this.o.now()) === 0) this.publish(peerId, held)
  }

  /** Asks the helpers whether they reach `target`: one answer each (undefined: none in time). */
  private askHelpers (target: string): Array<Promise<{ helper: string, reachable: boolean | undefined }>> {
    const timeoutMs = 2 * this.timeoutMs()
    const helpers = this.helpers(target)
    this.o.log.info({ peer: target, asking: helpers.length }, 'indirect check (no registry in reach)')
    return helpers.map(async helper => ({ helper, reachable: await askToCheck(this.o.libp2p, helper, target, timeoutMs) }))
  }

  /** Up to `indirectCheckers` members we are connected to, at random, the accused aside. */
  private helpers (target: string): string[] {
    const candidates = this.o.libp2p.getPeers().map(String).filter(p => p !== target && this.isMember(p))
    shuffle(candidates, this.o.random)
    return candidates.slice(0, PEER_VERDICTS.indirectCheckers)
  }

  /** Not awaited by the check: a publish stuck behind a slow peer must not hold the next check of this one. */
  private publish (peerId: string, held: Version): void {
    this.o.log.info({ peer: peerId, ...held }, 'suspicion published on gossip (no registry in reach)')
    void this.o.gossip.publish({ kind: 'suspect', peerId, incarnation: held.incarnation, seq: held.seq })
  }

  /** The verdict: every live entry of the peer at (or below) the version judged goes `down` here. */
  private declare (peerId: string, held: Version): void {
    const now = this.o.now()
    const reason = this.causes.get(peerId) ?? 'heartbeat-timeout'
    const changes: Change[] = []
    for (const r of this.o.catalog.ofPeer(peerId)) {
      if (!isAvailable(r) || r.incarnation !== held.incarnation || r.seq > held.seq) continue
      const { change } = this.o.catalog.apply({ ...r, status: 'down', reason }, 'peers', now)
      if (change !== undefined) changes.push(change)
    }
    this.o.log.info({ peer: peerId, reason, entries: changes.length }, 'peers declared a provider down (no registry in reach)')
    for (const e of eventsForChanges(changes.filter(c => this.o.required.has(c.record.name)), 'peers')) this.o.emit(e)
  }
}
