import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { Catalog } from '../../src/node/catalog.js'
import type { NodeEvent } from '../../src/node/events.js'
import { Channel } from '../../src/node/framing.js'
import type { Logger } from '../../src/node/logger.js'
import { ECHO_EVERY_BEATS, HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_HEARTBEAT_FRAME, MAX_NOTIFY_FRAME, MAX_REGISTRY_FRAME, NOTIFY_PROTOCOL, REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { RegistrySession, homeIndex, type SessionOptions } from '../../src/node/registry-session.js'
import { heartbeatAck, heartbeatBeat, type ProviderRecord } from '../../src/node/schemas.js'
import { eventually } from '../helpers/nodes.js'
import { StubLibp2p, newPeerId } from '../helpers/streams.js'

/** What the sessions below share (a silent log, slow retries and reaping, no load); each test gives the rest. */
function sessionOptions (own: Pick<SessionOptions, 'libp2p' | 'catalog' | 'registry' | 'registrations'> & Partial<SessionOptions>): SessionOptions {
  return {
    log: { warn: () => {}, debug: () => {}, info: () => {} } as unknown as Logger,
    now: () => 5_000,
    random: () => 0,
    selfId: 'self',
    reconnectMinMs: 60_000,
    reconnectMaxMs: 120_000,
    homeCheckMs: 600_000,
    heartbeatIntervalMs: 60_000,
    reapAfterMs: 60_000,
    load: () => 0,
    emit: () => {},
    ...own
  }
}

describe('a registry session, over in-memory streams', () => {
  let registry: PeerId
  let provider: PeerId
  let libp2p: StubLibp2p
  let catalog: Catalog
  let session: RegistrySession
  let events: NodeEvent[]
  let warnings: string[]

  function logRecord (seq: number): ProviderRecord {
    return { name: 'log', peerId: provider.toString(), addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq, status: 'up' }
  }

  beforeEach(async () => {
    registry = await newPeerId()
    provider = await newPeerId()
    libp2p = new StubLibp2p()
    // The registry is away: the session keeps serving (and retrying, with back-off).
    libp2p.refuse = new Error('connect ECONNREFUSED 127.0.0.1:4001')
    catalog = new Catalog()
    events = []
    warnings = []
    const log = { warn: (_: unknown, msg: string) => { warnings.push(msg) }, debug: () => {}, info: () => {} }
    session = new RegistrySession({
      libp2p,
      log: log as unknown as Logger,
      now: () => 5_000,
      random: () => 0,
      catalog,
      selfId: 'self',
      registry: `/ip4/127.0.0.1/tcp/4001/p2p/${registry.toString()}`,
      registrations: () => [{ name: 'demo', addrs: [], requires: ['log'], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      reconnectMinMs: 60_000,
      reconnectMaxMs: 120_000,
      homeCheckMs: 600_000,
      heartbeatIntervalMs: 60_000,
      reapAfterMs: 60_000,
      load: () => 4,
      emit: e => { events.push(e) }
    })
    await session.start()
  })

  afterEach(async () => { await session.stop() })

  it('retries the registry with the injected random in its back-off', async () => {
    // Equal jitter: random 0 waits half the ceiling.
    await eventually(() => { expect(events).toContainEqual(expect.objectContaining({ event: 'registry-retry', attempt: 1, delayMs: 30_000 })) })
  })

  it('answers probes with health and load: degraded until a required name has a provider', async () => {
    const ch = new Channel(await libp2p.open(HEARTBEAT_PROTOCOL, registry), MAX_HEARTBEAT_FRAME)
    await ch.write({ type: 'probe', id: 5 })
    expect(await ch.read(heartbeatAck)).toEqual({ type: 'ack', id: 5, health: 'degraded', load: 4 })
    catalog.apply(logRecord(1), 'registry', 5_000)
    await ch.write({ type: 'probe', id: 6 })
    expect(await ch.read(heartbeatAck)).toEqual({ type: 'ack', id: 6, health: 'ok', load: 4 })
  })

  it('applies patches from the registry, and refuses a patch stream from any other peer', async () => {
    const forger = await libp2p.open(NOTIFY_PROTOCOL, await newPeerId())
    try { await new Channel(forger, MAX_NOTIFY_FRAME).write({ type: 'patch', records: [logRecord(9)] }) } catch {}
    await eventually(() => { expect(forger.status).not.toBe('open') })
    expect(warnings).toEqual(['rejected a notify stream from a peer that is not the registry'])
    expect(catalog.providersOf('log')).toEqual([])

    const ch = new Channel(await libp2p.open(NOTIFY_PROTOCOL, registry), MAX_NOTIFY_FRAME)
    await ch.write({ type: 'patch', records: [logRecord(1)] })
    await eventually(() => { expect(catalog.providersOf('log')).toMatchObject([{ peerId: provider.toString(), status: 'up', seq: 1 }]) })
    expect(events).toContainEqual(expect.objectContaining({ event: 'provider-up', name: 'log', via: 'hub' }))
  })

  it('refuses a malformed patch from the registry and leaves the catalogue as it was', async () => {
    const stream = await libp2p.open(NOTIFY_PROTOCOL, registry)
    const ch = new Channel(stream, MAX_NOTIFY_FRAME)
    await ch.write({ type: 'patch', records: [logRecord(1)] })
    await eventually(() => { expect(catalog.providersOf('log')).toHaveLength(1) })
    const before = JSON.stringify(catalog.all())
    // A good record beside a bad one: the frame is refused whole.
    await ch.write({ type: 'patch', records: [logRecord(2), { ...logRecord(3), name: 'Not A Name' }] })
    await eventually(() => { expect(stream.status).not.toBe('open') })
    expect(warnings).toEqual(['bad patch from the registry'])
    expect(JSON.stringify(catalog.all())).toEqual(before)
  })
})

describe('a registry session stopped while its registration is in flight', () => {
  it('waits for the answer and deregisters, so the registry does not see a crash', async () => {
    const registry = await newPeerId()
    const libp2p = new StubLibp2p()
    libp2p.dialsReach = registry
    const ops: string[] = []
    const answerRegister = Promise.withResolvers<void>()
    libp2p.answer(REGISTRY_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id, req } = await ch.readJson() as { id: number, req: { op: string, names?: string[] } }
        ops.push(req.op)
        if (req.op === 'register') {
          await answerRegister.promise
          await ch.write({ id, ok: true, result: { records: [], providers: [], peers: [] } })
        } else await ch.write({ id, ok: true, result: { removed: req.names } })
      }
    })
    const session = new RegistrySession(sessionOptions({
      libp2p,
      catalog: new Catalog(),
      registry: `/ip4/127.0.0.1/tcp/4001/p2p/${registry.toString()}`,
      registrations: () => [{ name: 'log', addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }]
    }))
    await session.start()
    await eventually(() => { expect(ops).toEqual(['register']) })
    const stopped = session.stop()
    answerRegister.resolve()
    await stopped
    expect(ops).toEqual(['register', 'deregister'])
  })
})

describe('a registry session whose registry falls silent (a partition: no FIN, no RST)', () => {
  it('asks the registry after silent beats; an answer is enough, no answer drops the connection and says registry-lost', async () => {
    const registry = await newPeerId()
    const libp2p = new StubLibp2p()
    libp2p.dialsReach = registry
    let answering = true
    const ops: string[] = []
    libp2p.answer(REGISTRY_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id, req } = await ch.readJson() as { id: number, req: { op: string } }
        ops.push(req.op)
        if (!answering) continue
        await ch.write({ id, ok: true, result: req.op === 'register' ? { records: [], providers: [], peers: [] } : { providers: [] } })
      }
    })
    const aborted: string[] = []
    libp2p.getConnections = () => [{ abort: (err: Error) => { aborted.push(err.message) } }] as any
    const events: NodeEvent[] = []
    const session = new RegistrySession(sessionOptions({
      libp2p,
      now: () => Date.now(),
      catalog: new Catalog(),
      registry: `/ip4/127.0.0.1/tcp/4001/p2p/${registry.toString()}`,
      registrations: () => [{ name: 'grading', addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      heartbeatIntervalMs: 20,
      emit: e => { events.push(e) }
    }))
    try {
      await session.start()
      await session.registered()
      // Nobody probes us here: the session asks, the registry answers, all is well.
      await eventually(() => { expect(ops.filter(op => op === 'lookup').length).toBeGreaterThanOrEqual(2) })
      expect(events.map(e => e.event)).not.toContain('registry-lost')
      expect(session.isConnected).toBe(true)
      // Now it is cut off: the question goes unanswered. Probes from another peer (a flood of
      // them) are answered but are not the registry's beat.
      answering = false
      const forger = new Channel(await libp2p.open(HEARTBEAT_PROTOCOL, await newPeerId()), MAX_HEARTBEAT_FRAME)
      const flood = setInterval(() => { void forger.write({ type: 'probe', id: 1 }).catch(() => {}) }, 5)
      try {
        await eventually(() => { expect(events).toContainEqual(expect.objectContaining({ event: 'registry-lost', reason: 'heartbeat-silence' })) }, 10_000)
      } finally {
        clearInterval(flood)
        forger.abort(new Error('done'))
      }
      await eventually(() => { expect(events).toContainEqual(expect.objectContaining({ event: 'registry-lost', reason: 'heartbeat-silence' })) }, 10_000)
      expect(aborted).toEqual(['the registry does not answer'])
      expect(session.isConnected).toBe(false)
      expect(events.filter(e => e.event === 'registry-lost')).toHaveLength(1)
    } finally {
      await session.stop()
    }
  })
})

describe('a registry session pushing its beats to the registry', () => {
  it('pushes a beat every interval on the push protocol, asks for an echo every few, and takes an echo as word from the registry; to any other peer it only answers probes', async () => {
    const registry = await newPeerId()
    const libp2p = new StubLibp2p()
    libp2p.dialsReach = registry
    libp2p.answer(REGISTRY_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id } = await ch.readJson() as { id: number }
        await ch.write({ id, ok: true, result: { records: [], providers: [], peers: [] } })
      }
    })
    const warnings: string[] = []
    const session = new RegistrySession(sessionOptions({
      libp2p,
      log: { warn: (_: unknown, msg: string) => { warnings.push(msg) }, debug: () => {}, info: () => {} } as unknown as Logger,
      now: () => Date.now(),
      catalog: new Catalog(),
      registry: `/ip4/127.0.0.1/tcp/4001/p2p/${registry.toString()}`,
      registrations: () => [{ name: 'grading', addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      heartbeatIntervalMs: 20,
      load: () => 2
    }))
    try {
      await session.start()
      await session.registered()
      const ch = new Channel(await libp2p.open(HEARTBEAT_PUSH_PROTOCOL, registry), MAX_HEARTBEAT_FRAME)
      const beats = []
      for (let i = 0; i < 2 * ECHO_EVERY_BEATS; i++) beats.push(await ch.read(heartbeatBeat))
      expect(beats.filter(b => b.echo !== undefined).map(b => b.echo)).toEqual([ECHO_EVERY_BEATS, 2 * ECHO_EVERY_BEATS])
      expect(beats.every(b => b.health === 'ok' && b.load === 2)).toBe(true)
      const echoedAt = Date.now()
      await ch.write({ type: 'echo', id: 2 * ECHO_EVERY_BEATS })
      await eventually(() => { expect(session.lastContactAt).toBeGreaterThanOrEqual(echoedAt) })

      // Another peer on the push protocol: its probe is answered, nothing is pushed to it (the
      // registry's stream has had beats since), and an echo from it is refused with the stream.
      const other = new Channel(await libp2p.open(HEARTBEAT_PUSH_PROTOCOL, await newPeerId()), MAX_HEARTBEAT_FRAME)
      for (let i = 0; i < 2; i++) await ch.read(heartbeatBeat)
      await other.write({ type: 'probe', id: 4 })
      expect(await other.read(heartbeatAck)).toEqual({ type: 'ack', id: 4, health: 'ok', load: 2 })
      await other.write({ type: 'echo', id: 3 })
      await eventually(() => { expect(other.stream.status).not.toBe('open') })
      expect(warnings).toEqual(['bad heartbeat frame'])
    } finally {
      await session.stop()
    }
  })
})

describe('a registry session with several registries sharing a catalogue', () => {
  it('keeps what it knows when the registry it registers with is behind: a live provider is not made suspect again by a stale answer', async () => {
    const registries = [await newPeerId(), await newPeerId()]
    const home = registries[homeIndex('self', 2)]
    const provider = (await newPeerId()).toString()
    const libp2p = new StubLibp2p()
    libp2p.dialsReach = home
    const stale: ProviderRecord = { name: 'log', peerId: provider, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 6, status: 'suspect', reason: 'heartbeat-timeout' }
    libp2p.answer(REGISTRY_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id, req } = await ch.readJson() as { id: number, req: { op: string } }
        // This registry has not yet read, from the shared store, the `up` its peer wrote after the suspect.
        if (req.op === 'register') await ch.write({ id, ok: true, result: { records: [], providers: [stale], peers: [] } })
        else await ch.write({ id, ok: false, error: { name: 'GdsError', code: 'INTERNAL', message: 'not in this test', retryable: false } })
      }
    })
    const catalog = new Catalog()
    // What the provider's own registry already said (its patch, or gossip): up again, one seq later.
    catalog.apply({ ...stale, seq: 7, status: 'up', reason: 'heartbeat-ok' }, 'registry', 5_000)
    const events: NodeEvent[] = []
    const session = new RegistrySession(sessionOptions({
      libp2p,
      catalog,
      registry: registries.map((r, i) => `/ip4/127.0.0.1/tcp/${4001 + i}/p2p/${r.toString()}`).join(','),
      registrations: () => [{ name: 'demo', addrs: [], requires: ['log'], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      emit: e => { events.push(e) }
    }))
    try {
      await session.start()
      await session.registered()
      expect(catalog.providersOf('log')).toMatchObject([{ peerId: provider, seq: 7, status: 'up' }])
      expect(events.filter(e => e.event === 'provider-suspect' || e.event === 'provider-down')).toEqual([])
    } finally {
      await session.stop()
    }
  })

  it('keeps the registry it would fail over to connected; when its registry goes, it registers there without paging through the catalogue again', async () => {
    const self = (await newPeerId()).toString()
    const registries = [await newPeerId(), await newPeerId()]
    const addrs = registries.map((r, i) => `/ip4/127.0.0.1/tcp/${4001 + i}/p2p/${r.toString()}`)
    const home = homeIndex(self, 2)
    const libp2p = new StubLibp2p()
    libp2p.dialsReachPinned = true
    const mine: ProviderRecord = { name: 'demo', peerId: self, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', reason: 'registered' }
    const ops: string[] = []
    libp2p.answer(REGISTRY_PROTOCOL, async (remote, dial) => {
      const registry = libp2p.dials[dial - 1].peer
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id, req } = await ch.readJson() as { id: number, req: { op: string } }
        ops.push(`${req.op}@${registries.findIndex(r => r.toString() === registry)}`)
        if (req.op === 'list') await ch.write({ id, end: true })
        else await ch.write({ id, ok: true, result: { records: [mine], providers: [], peers: [] } })
      }
    })
    const events: NodeEvent[] = []
    const session = new RegistrySession(sessionOptions({
      libp2p,
      catalog: new Catalog(),
      selfId: self,
      registry: addrs.join(','),
      registrations: () => [{ name: 'demo', addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      emit: e => { events.push(e) }
    }))
    try {
      await session.start()
      await session.registered()
      await eventually(() => { expect(ops).toEqual([`register@${home}`, `list@${home}`]) })
      // The standby: dialled once registered, before anything failed.
      expect(libp2p.dialled).toEqual([addrs[home], addrs[1 - home]])
      libp2p.emitPeerEvent('peer:disconnect', registries[home])
      await eventually(() => { expect(events.filter(e => e.event === 'registered').map(e => e.registry)).toEqual([registries[home].toString(), registries[1 - home].toString()]) })
      // Its table is current (patches, then gossip): registered, no list.
      expect(ops).toEqual([`register@${home}`, `list@${home}`, `register@${1 - home}`])
    } finally {
      await session.stop()
    }
  })

  it('moves back to its home registry once home has answered two checks in a row with its entry, and not before', async () => {
    const self = (await newPeerId()).toString()
    const registries = [await newPeerId(), await newPeerId()]
    const home = registries[homeIndex(self, 2)]
    const away = registries.find(r => !r.equals(home))!
    const libp2p = new StubLibp2p()
    // Home is down at first: the session registers with the other one.
    libp2p.dialsReach = away
    const mine: ProviderRecord = { name: 'demo', peerId: self, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', reason: 'registered' }
    let homeHasUs = false
    let lookups = 0
    libp2p.answer(REGISTRY_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_REGISTRY_FRAME)
      for (;;) {
        const { id, req } = await ch.readJson() as { id: number, req: { op: string } }
        if (req.op === 'lookup') lookups++
        // A registry just started, before it has read the catalogue, does not know us yet.
        const result = req.op === 'register' ? { records: [mine], providers: [], peers: [] } : { providers: homeHasUs ? [mine] : [] }
        await ch.write({ id, ok: true, result })
      }
    })
    const events: NodeEvent[] = []
    const session = new RegistrySession(sessionOptions({
      libp2p,
      catalog: new Catalog(),
      selfId: self,
      homeCheckMs: 10,
      registry: registries.map((r, i) => `/ip4/127.0.0.1/tcp/${4001 + i}/p2p/${r.toString()}`).join(','),
      registrations: () => [{ name: 'demo', addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      emit: e => { events.push(e) }
    }))
    const registeredAt = (): string[] => events.flatMap(e => e.event === 'registered' ? [e.registry] : [])
    try {
      await session.start()
      await session.registered()
      expect(registeredAt()).toEqual([away.toString()])
      // Home back, answering, but without our entry: not ready for us.
      libp2p.dialsReach = home
      await eventually(() => { expect(lookups).toBeGreaterThanOrEqual(4) }, 10_000)
      expect(registeredAt()).toEqual([away.toString()])
      homeHasUs = true
      await eventually(() => { expect(registeredAt()).toEqual([away.toString(), home.toString()]) }, 10_000)
      expect(events.filter(e => e.event === 'registry-home')).toEqual([{ event: 'registry-home', registry: home.toString(), from: away.toString() }])
      expect(session.registryPeer?.equals(home)).toBe(true)
      // A move, not a loss: nothing said the registry was gone.
      expect(events.some(e => e.event === 'registry-lost')).toBe(false)
    } finally {
      await session.stop()
    }
  })
})
