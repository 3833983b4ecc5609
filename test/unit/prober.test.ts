import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { PeerId, Stream } from '@libp2p/interface'
import { Channel } from '../../src/node/framing.js'
import type { Transition } from '../../src/node/heartbeat.js'
import type { Logger } from '../../src/node/logger.js'
import { HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_HEARTBEAT_FRAME } from '../../src/node/protocols.js'
import { answerProbes } from '../../src/node/registry-session.js'
import { heartbeatFromRegistry, heartbeatProbe } from '../../src/node/schemas.js'
import { Prober } from '../../src/services/registry/prober.js'
import { TICK_MS } from '../../src/node/timer-wheel.js'
import { eventually } from '../helpers/nodes.js'
import { StubLibp2p, newPeerId } from '../helpers/streams.js'

const framed = (value: unknown): Uint8ArrayList => lp.encode.single(new TextEncoder().encode(JSON.stringify(value)))

/** Long enough that any probe a test sees is the first one or one out of turn. */
const INTERVAL_MS = 60_000
/** Deadlines an ack meets even on a loaded machine; the no-ack test's is short. */
const TIMEOUT_MS = 2_000
const SHORT_TIMEOUT_MS = 30

describe('the prober, over in-memory streams', () => {
  let clock = 1_000
  let provider: PeerId
  let libp2p: StubLibp2p
  let prober: Prober
  let transitions: Transition[]
  let acks: Array<{ rttMs?: number, load: number }>
  let failures: Array<{ reason: string, err: string }>

  async function setup (timeoutMs = TIMEOUT_MS, random = 0.5): Promise<void> {
    provider = await newPeerId()
    libp2p = new StubLibp2p()
    transitions = []
    acks = []
    failures = []
    const log = { debug: (fields: { reason: string, err: string }) => { failures.push({ reason: fields.reason, err: fields.err }) } }
    prober = new Prober({
      libp2p,
      log: log as unknown as Logger,
      now: () => clock,
      random: () => random,
      heartbeatIntervalMs: INTERVAL_MS,
      heartbeatTimeoutMs: timeoutMs,
      failureThreshold: 2,
      onTransition: (_, t) => { transitions.push(t) },
      onAck: (_, figures) => { acks.push(figures) }
    })
  }

  /** A provider that acks every probe, 7 ms after it (on the injected clock), with load 3. */
  function acking (remote: Stream): void {
    void answerProbes(remote, () => { clock += 7; return { health: 'ok', load: 3 } }).catch(() => {})
  }

  afterEach(() => {
    prober?.stop()
    vi.useRealTimers()
  })

  it('an ack brings a down peer up and reports its rtt and load', async () => {
    await setup()
    libp2p.answer(HEARTBEAT_PROTOCOL, acking)
    prober.add(provider.toString(), { status: 'down', immediately: true })
    await eventually(() => { expect(transitions).toEqual([{ from: 'down', to: 'up', reason: 'heartbeat-ok' }]) })
    expect(acks).toEqual([{ rttMs: 7, load: 3 }])
    expect(libp2p.dials).toEqual([{ peer: provider.toString(), protocol: HEARTBEAT_PROTOCOL }])
  })

  it('no ack: suspect after one timeout, down after failureThreshold, probed again at once in between', async () => {
    await setup(SHORT_TIMEOUT_MS)
    const probes: number[] = []
    libp2p.answer(HEARTBEAT_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      for (;;) probes.push((await ch.read(heartbeatProbe)).id)
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(transitions).toHaveLength(2) })
    expect(transitions).toEqual([
      { from: 'up', to: 'suspect', reason: 'heartbeat-timeout' },
      { from: 'suspect', to: 'down', reason: 'heartbeat-timeout' }
    ])
    // Both probes rode the one stream.
    expect(probes).toEqual([1, 2])
    expect(libp2p.dials).toHaveLength(1)
    expect(acks).toEqual([])
  })

  it('a closed heartbeat stream gets a probe out of turn, on a new stream', async () => {
    await setup()
    libp2p.answer(HEARTBEAT_PROTOCOL, async (remote, dial) => {
      if (dial > 1) { acking(remote); return }
      // The first stream acks one probe, then the provider's side goes away.
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      const probe = await ch.read(heartbeatProbe)
      await ch.write({ type: 'ack', id: probe.id, health: 'ok', load: 1 })
      await eventually(() => { expect(acks).toHaveLength(1) })
      remote.abort(new Error('provider gone'))
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(2) })
    expect(libp2p.dials).toHaveLength(2)
    expect(transitions).toEqual([])
  })

  /** A provider whose first heartbeat stream answers the first probe with `bad` bytes; later streams ack. */
  function answersFirstWith (bad: (probeId: number) => Uint8Array | Uint8ArrayList): void {
    libp2p.answer(HEARTBEAT_PROTOCOL, async (remote, dial) => {
      if (dial > 1) { acking(remote); return }
      const probe = await new Channel(remote, MAX_HEARTBEAT_FRAME).read(heartbeatProbe)
      remote.send(bad(probe.id))
    })
  }

  it.each([
    ['not JSON', () => lp.encode.single(new TextEncoder().encode('{nope'))],
    ['not an ack', (id: number) => framed({ type: 'ack', id, health: 'fine', load: -1 })],
    ['oversized', () => lp.encode.single(new Uint8Array(MAX_HEARTBEAT_FRAME + 1).fill(0x20))]
  ])('an ack that is %s ends the stream: the probe fails, the peer is probed again at once on a new one', async (_, bad) => {
    await setup()
    answersFirstWith(bad)
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    expect(failures.map(f => f.reason)).toEqual([undefined, 'connection-closed'])
    expect(failures[0].err).toMatch(/malformed|not valid UTF-8 JSON|length/i)
    expect(failures[1].err).toBe('heartbeat stream closed')
    expect(libp2p.dials).toHaveLength(2)
    // The failed probe is one miss; the probe out of turn answered before a second.
    expect(transitions.map(t => t.to)).toEqual(['suspect', 'up'])
  })

  it('acks of other ids answer nothing: the probe times out and the state only moves by the rules', async () => {
    await setup(SHORT_TIMEOUT_MS)
    libp2p.answer(HEARTBEAT_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      for (;;) {
        const probe = await ch.read(heartbeatProbe)
        await ch.writeAll([probe.id - 1, probe.id + 1, probe.id + 7].map(id => ({ type: 'ack', id, health: 'ok', load: 9 })))
      }
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(transitions).toHaveLength(2) })
    expect(transitions.map(t => t.to)).toEqual(['suspect', 'down'])
    expect(acks).toEqual([])
    expect(libp2p.dials).toHaveLength(1)
  })

  it('a flood of acks is cut with the stream (what waits unparsed is capped); the peer is probed again on a new one', async () => {
    await setup()
    answersFirstWith(id => new Uint8ArrayList(...Array.from({ length: 200 }, (_, i) => framed({ type: 'ack', id: id + 1 + i, health: 'ok', load: 9 }))))
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    expect(failures[0].err).toMatch(/limit exceeded/)
    expect(libp2p.dials).toHaveLength(2)
    expect(transitions.map(t => t.to)).toEqual(['suspect', 'up'])
  })

  it('a re-registration of a doubted peer replaces the heartbeat stream: a probe lost on the old one counts for nothing (a healed partition)', async () => {
    // One timeout makes it suspect; the re-probe waits as long on the stale stream: time to re-register.
    await setup()
    const stale: number[] = []
    libp2p.answer(HEARTBEAT_PROTOCOL, async (remote, dial) => {
      if (dial > 1) { acking(remote); return }
      // The first stream is the partitioned connection: probes go in, nothing comes back.
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      for (;;) stale.push((await ch.read(heartbeatProbe)).id)
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(stale).toEqual([1, 2]) }, 10_000)
    expect(transitions).toEqual([{ from: 'up', to: 'suspect', reason: 'heartbeat-timeout' }])
    // The peer registered again over its new connection while the second probe waits for its ack.
    prober.add(provider.toString(), { reset: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    expect(libp2p.dials).toHaveLength(2)
    expect(transitions).toEqual([{ from: 'up', to: 'suspect', reason: 'heartbeat-timeout' }])
  })

  it('a re-registration of a peer that is up keeps its heartbeat stream', async () => {
    await setup()
    libp2p.answer(HEARTBEAT_PROTOCOL, acking)
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    prober.add(provider.toString(), { reset: true })
    prober.trigger(provider.toString(), 'suspect-report')
    await eventually(() => { expect(acks).toHaveLength(2) })
    expect(libp2p.dials).toHaveLength(1)
    expect(transitions).toEqual([])
  })

  it('opens the heartbeat stream on the newest open connection to the peer, not the first', async () => {
    await setup()
    const opened: string[] = []
    const conn = (id: string, open: number, status = 'open'): unknown => ({
      id, status, timeline: { open },
      newStream: async () => { opened.push(id); return (await libp2p.dialProtocol(provider, HEARTBEAT_PROTOCOL)) }
    })
    libp2p.getConnections = () => [conn('old', 1), conn('new', 3), conn('closing', 5, 'closing')] as any
    libp2p.answer(HEARTBEAT_PROTOCOL, acking)
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    expect(opened).toEqual(['new'])
  })

  it('a deadline our own stall used up starts again: the ack that was on its way counts, nobody is suspect', async () => {
    await setup(SHORT_TIMEOUT_MS)
    libp2p.answer(HEARTBEAT_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      const probe = await ch.read(heartbeatProbe)
      // The whole process blocks (as a node sharing a loaded host does) well past the deadline;
      // the ack then takes two more turns of the loop, as one through a socket would.
      const until = performance.now() + 10 * SHORT_TIMEOUT_MS
      while (performance.now() < until) { /* stalled */ }
      setImmediate(() => setImmediate(() => { void ch.write({ type: 'ack', id: probe.id, health: 'ok', load: 2 }) }))
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(acks).toHaveLength(1) })
    expect(transitions).toEqual([])
  })

  it('a refused dial is down at once, with reason refused', async () => {
    await setup()
    libp2p.refuse = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4002'), { code: 'ECONNREFUSED' })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(transitions).toEqual([{ from: 'up', to: 'down', reason: 'refused' }]) })
  })

  it('stop() settles a probe in flight at once, without a transition, and clears every timer', async () => {
    // A deadline the test never reaches: the probe can only settle through stop().
    await setup(60_000)
    libp2p.answer(HEARTBEAT_PROTOCOL, async remote => {
      await new Channel(remote, MAX_HEARTBEAT_FRAME).read(heartbeatProbe)
      prober.stop()
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(failures).toEqual([{ reason: 'connection-closed', err: 'prober stopped' }]) })
    expect(transitions).toEqual([])

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] })
    await setup(TIMEOUT_MS, 0)
    prober.add(provider.toString())
    prober.add((await newPeerId()).toString(), { immediately: true })
    // The wheel's timer for the first one's beat, an immediate for the second one's probe.
    expect(vi.getTimerCount()).toBe(2)
    prober.stop()
    expect(vi.getTimerCount()).toBe(0)
    expect(libp2p.dials).toEqual([])
  })

  it.each([[0, 1], [0.5, 0.95]])('spreads the beat below the interval with the injected random: random %d beats at %d of it (to a tick of the wheel)', async (random, share) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    await setup(TIMEOUT_MS, random)
    libp2p.refuse = new Error('not in this test')
    prober.add(provider.toString())
    vi.advanceTimersByTime(INTERVAL_MS * share - 1)
    expect(libp2p.dials).toEqual([])
    vi.advanceTimersByTime(TICK_MS + 1)
    expect(libp2p.dials).toHaveLength(1)
  })

  it('many peers share one Node timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    await setup(TIMEOUT_MS)
    for (let i = 0; i < 50; i++) prober.add((await newPeerId()).toString())
    expect(vi.getTimerCount()).toBe(1)
  })
})

describe('the prober, with providers that push their beats', () => {
  /** Beats every BEAT_MS; the registry's interval is twice that, so only a stall makes one late. */
  const BEAT_MS = 50
  const PUSH_INTERVAL_MS = 2 * BEAT_MS
  let provider: PeerId
  let libp2p: StubLibp2p
  let prober: Prober
  let transitions: Transition[]
  let acks: Array<{ rttMs?: number, load: number }>
  let logged: Array<{ reason?: string, err: string }>

  async function setup (timeoutMs = 2_000): Promise<void> {
    provider = await newPeerId()
    libp2p = new StubLibp2p()
    transitions = []
    acks = []
    logged = []
    const log = { debug: (fields: { reason?: string, err: string }) => { logged.push({ reason: fields.reason, err: fields.err }) } }
    prober = new Prober({
      libp2p,
      log: log as unknown as Logger,
      // Real time: the flood bound counts beats per interval of it.
      now: () => Date.now(),
      random: () => 0.5,
      heartbeatIntervalMs: PUSH_INTERVAL_MS,
      heartbeatTimeoutMs: timeoutMs,
      failureThreshold: 2,
      onTransition: (_, t) => { transitions.push(t) },
      onAck: (_, figures) => { acks.push(figures) }
    })
  }

  afterEach(() => { prober?.stop() })

  const probes = (): number => acks.filter(a => a.rttMs !== undefined).length
  const beats = (): number => acks.filter(a => a.rttMs === undefined).length

  it('asks for the push protocol first; the beats keep the provider up and report its load, and it is probed only to open the stream', async () => {
    await setup()
    libp2p.answer(HEARTBEAT_PUSH_PROTOCOL, remote => { void answerProbes(remote, () => ({ health: 'ok', load: 3 }), { pushEveryMs: BEAT_MS }).catch(() => {}) })
    libp2p.answer(HEARTBEAT_PROTOCOL, () => { throw new Error('the push protocol comes first') })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(beats()).toBeGreaterThanOrEqual(10) })
    expect(libp2p.dials).toEqual([{ peer: provider.toString(), protocol: HEARTBEAT_PUSH_PROTOCOL }])
    expect(acks.every(a => a.load === 3)).toBe(true)
    // The first probe opened the stream; any other came from a beat held up by a stalled loop.
    expect(probes()).toBeLessThan(beats() / 2)
    expect(transitions).toEqual([])
  })

  it('a provider that stops pushing (hung) is probed when a beat is late, then suspect and down by the confirming probe', async () => {
    await setup(60)
    const probed: number[] = []
    libp2p.answer(HEARTBEAT_PUSH_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      const first = await ch.read(heartbeatProbe)
      await ch.write({ type: 'ack', id: first.id, health: 'ok', load: 0 })
      await ch.write({ type: 'beat', health: 'ok', load: 1 })
      // Hung from here on: probes go unanswered.
      for (;;) probed.push((await ch.read(heartbeatProbe)).id)
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(transitions).toHaveLength(2) })
    expect(transitions).toEqual([
      { from: 'up', to: 'suspect', reason: 'heartbeat-timeout' },
      { from: 'suspect', to: 'down', reason: 'heartbeat-timeout' }
    ])
    expect(probed).toEqual([2, 3])
    expect(acks).toEqual([expect.objectContaining({ load: 0 }), { load: 1 }])
  })

  it('echoes a beat that asks for it, with its id, and only those', async () => {
    await setup()
    const echoes: unknown[] = []
    libp2p.answer(HEARTBEAT_PUSH_PROTOCOL, async remote => {
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      const first = await ch.read(heartbeatProbe)
      await ch.writeAll([{ type: 'ack', id: first.id, health: 'ok', load: 0 }, { type: 'beat', health: 'ok', load: 0 }, { type: 'beat', health: 'ok', load: 0, echo: 9 }])
      echoes.push(await ch.read(heartbeatFromRegistry))
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(echoes).toEqual([{ type: 'echo', id: 9 }]) })
  })

  it.each([
    ['a flood of beats', () => new Uint8ArrayList(...Array.from({ length: 20 }, () => framed({ type: 'beat', health: 'ok', load: 0 }))), /more than 4 heartbeat beats/],
    ['a malformed beat', () => framed({ type: 'beat', health: 'fine', load: -1 }), /malformed|invalid/i],
    ['a probe (only the registry probes)', () => framed({ type: 'probe', id: 1 }), /malformed|invalid/i]
  ])('%s ends the stream, changes no status, and the provider is probed again on a new one', async (_, bad, why) => {
    await setup()
    libp2p.answer(HEARTBEAT_PUSH_PROTOCOL, async (remote, dial) => {
      if (dial > 1) { void answerProbes(remote, () => ({ health: 'ok', load: 0 }), { pushEveryMs: BEAT_MS }).catch(() => {}); return }
      const ch = new Channel(remote, MAX_HEARTBEAT_FRAME)
      const first = await ch.read(heartbeatProbe)
      await ch.write({ type: 'ack', id: first.id, health: 'ok', load: 0 })
      remote.send(bad())
    })
    prober.add(provider.toString(), { immediately: true })
    await eventually(() => { expect(libp2p.dials).toHaveLength(2) })
    await eventually(() => { expect(beats()).toBeGreaterThanOrEqual(1) })
    expect(logged.find(l => l.reason === undefined)?.err).toMatch(why)
    expect(transitions).toEqual([])
  })
})
