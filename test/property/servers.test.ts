import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerId, Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { Catalog } from '../../src/node/catalog.js'
import { encodeFrame } from '../../src/node/framing.js'
import type { GdsLibp2p } from '../../src/node/libp2p.js'
import { silentLogger } from '../../src/node/logger.js'
import { HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_REQUEST_FRAME, NOTIFY_PROTOCOL, REGISTRY_PROTOCOL, RPC_PROTOCOL, WATCH_PROTOCOL } from '../../src/node/protocols.js'
import { RegistrySession } from '../../src/node/registry-session.js'
import { RpcServer } from '../../src/node/rpc-server.js'
import { heartbeatAck, heartbeatFromProvider, muxAnswer, notifyPatch, rpcResponse, watchMessage, watchRequest } from '../../src/node/schemas.js'
import { RegistryHub } from '../../src/services/registry/hub.js'
import { gradingService } from '../../src/services/grading/index.js'
import { logService } from '../../src/services/log/index.js'
import { StubLibp2p, newPeerId } from '../helpers/streams.js'
import * as arb from './arbitraries.js'

/**
 * The servers of every protocol, each fed a hostile peer's frames over an in-memory stream
 * pair: the node never throws, every answer is a frame the other side can decode (a refusal a small one),
 * the stream ends (the server closes it) once the peer has said its piece, and the state is
 * exactly as before unless a request was valid and answered ok.
 */

/** The largest refusal: a wire error's message is at most 4,096 characters. */
const MAX_ERROR_BYTES = 8 * 1024
/** However it goes, a server answers and closes within this long. */
const ANSWER_DEADLINE_MS = 10_000
const RUNS = 80

const dec = new TextDecoder()

/** One write of a hostile peer, and the JSON it carries if it is a whole frame of JSON. */
interface Frame { bytes: Uint8Array, json?: any }

/** What a hostile peer writes: frames of JSON, mangled bytes, a length beyond the cap, or a frame cut short. */
function hostileFrames<T> (valid: fc.Arbitrary<T>): fc.Arbitrary<Frame[]> {
  const frame: fc.Arbitrary<Frame> = fc.oneof(
    { arbitrary: fc.oneof(valid, arb.hostile(valid)).map(json => ({ bytes: lp.encode.single(encodeFrame(json)).subarray(), json })), weight: 6 },
    // Mangled bytes may still be valid JSON, even a valid message (a peer id one character short is still one).
    { arbitrary: arb.mutatedBytes(valid).map(b => ({ bytes: lp.encode.single(b).subarray(), json: jsonOf(b) })), weight: 2 },
    { arbitrary: fc.constant({ bytes: Uint8Array.from([...lp.encode.single(new Uint8Array(MAX_REQUEST_FRAME * 20)).subarray(0, 4), 0x20]) }), weight: 1 },
    { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }).map(b => ({ bytes: Uint8Array.from([100, ...b]) })), weight: 1 }
  )
  return fc.array(frame, { minLength: 1, maxLength: 4 })
}

function jsonOf (bytes: Uint8Array): unknown {
  try { return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return undefined }
}

/** Writes the frames, ends our side, and reads every answer until the server ends the stream. */
async function exchange (stream: Stream, frames: Frame[]): Promise<unknown[]> {
  for (const f of frames) stream.send(f.bytes)
  await stream.close().catch(() => {})
  const answers: unknown[] = []
  let hung = false
  const timer = setTimeout(() => { hung = true; stream.abort(new Error('no end of stream in time')) }, ANSWER_DEADLINE_MS)
  try {
    for await (const msg of lp.decode(stream, { maxDataLength: 4 * 1024 * 1024 })) {
      const bytes = msg.subarray()
      const answer = JSON.parse(dec.decode(bytes))
      if (answer?.ok === false) expect(bytes.byteLength).toBeLessThanOrEqual(MAX_ERROR_BYTES)
      answers.push(answer)
    }
  } catch (err: any) {
    // A reset is a bounded answer too (the server gave up on a broken stream); a hang is not.
    if (err?.name !== 'StreamResetError' && err?.name !== 'StreamAbortedError') throw err
  } finally {
    clearTimeout(timer)
  }
  expect(hung, `the server neither answered nor ended the stream within ${ANSWER_DEADLINE_MS} ms`).toBe(false)
  return answers
}

function parses (schema: z.ZodType, answers: unknown[]): void {
  for (const a of answers) expect(schema.safeParse(a).success, `undecodable answer ${JSON.stringify(a).slice(0, 200)}`).toBe(true)
}

/**
 * Whether an ok answer may be to a request that changes state: what the frames of its id asked
 * for (an op, a method). A peer may send one id twice; any of them counts.
 */
function mayChange (frames: Frame[], field: (json: any) => unknown, mutating: string[]): (id: number) => boolean {
  const ids = new Set<number>()
  for (const { json } of frames) {
    const what = field(json)
    if (typeof json?.id === 'number' && typeof what === 'string' && mutating.includes(what)) ids.add(json.id)
  }
  return id => ids.has(id)
}

describe('the registry hub: registry and watch streams from a hostile peer', () => {
  let dir: string
  let libp2p: StubLibp2p
  let catalog: Catalog
  let hub: RegistryHub
  let peers: PeerId[]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-prop-hub-'))
    libp2p = new StubLibp2p()
    peers = [await newPeerId(), await newPeerId()]
    const key = await generateKeyPair('Ed25519')
    const self = peerIdFromPrivateKey(key)
    Object.assign(libp2p, { peerId: self, getMultiaddrs: () => [], peerStore: { merge: async () => {} } })
    catalog = new Catalog()
    hub = new RegistryHub({
      libp2p: libp2p as unknown as GdsLibp2p,
      privateKey: key,
      catalog,
      gossip: { publish: async () => {} },
      emit: () => {},
      log: silentLogger,
      now: () => Date.now(),
      random: Math.random,
      dataDir: dir,
      // No beat within a test: the catalogue changes only through what the peers send.
      heartbeatIntervalMs: 600_000,
      heartbeatTimeoutMs: 1_000,
      failureThreshold: 2,
      reapAfterMs: 3_600_000
    })
    await hub.start()
    await hub.handle({ op: 'register', services: [{ name: 'log', addrs: ['/ip4/127.0.0.1/tcp/4002'], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 }] }, peers[0].toString())
  })

  afterAll(async () => {
    await hub.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const snapshot = (): string => JSON.stringify(catalog.all().map(r => ({ ...r, lastSeen: 0 })).sort((a, b) => `${a.name}${a.peerId}`.localeCompare(`${b.name}${b.peerId}`)))
  const validFrame = fc.record({ id: fc.integer({ min: 1, max: 20 }), req: arb.registryRequest })

  it('registry frames: decodable, bounded answers, then the end; no change unless a register or deregister was answered ok', async () => {
    await fc.assert(fc.asyncProperty(hostileFrames(validFrame), fc.nat({ max: 1 }), async (frames, from) => {
      const before = snapshot()
      const answers = await exchange(await libp2p.open(REGISTRY_PROTOCOL, peers[from]), frames) as Array<z.infer<typeof muxAnswer>>
      parses(muxAnswer, answers)
      const mutating = mayChange(frames, j => j?.req?.op, ['register', 'deregister'])
      const changed = answers.some(a => 'ok' in a && a.ok && mutating(a.id))
      if (!changed) expect(snapshot()).toEqual(before)
    }), { numRuns: RUNS })
  })

  it('watch requests: a snapshot for a valid one, an end for anything else; nothing changes', async () => {
    await fc.assert(fc.asyncProperty(hostileFrames(fc.constant({ type: 'watch' })), async frames => {
      const before = snapshot()
      const stream = await libp2p.open(WATCH_PROTOCOL, peers[1])
      for (const f of frames) stream.send(f.bytes)
      // Our side ends: a frame cut short is then the end of the stream, not a wait for the rest.
      await stream.close().catch(() => {})
      const first = await (async () => {
        for await (const msg of lp.decode(stream)) return JSON.parse(dec.decode(msg.subarray()))
        return undefined
      })().catch((err: any) => { if (err?.name === 'StreamResetError' || err?.name === 'StreamAbortedError') return undefined; throw err })
      stream.abort(new Error('done'))
      if (watchRequest.safeParse(frames[0].json).success) expect(first).toBeDefined()
      if (first !== undefined) {
        expect(watchMessage.safeParse(first).success).toBe(true)
        expect(first.type).toBe('snapshot')
      }
      expect(snapshot()).toEqual(before)
    }), { numRuns: 30 })
  })
})

describe('the rpc server with the grading and log services: hostile calls', () => {
  let dir: string
  let rpc: RpcServer
  let libp2p: StubLibp2p
  let caller: PeerId

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-prop-rpc-'))
    libp2p = new StubLibp2p()
    caller = await newPeerId()
    const grading = gradingService({ dbPath: join(dir, 'grading.db') })
    const log = logService({ dir: join(dir, 'log') })
    await grading.start?.({ log: silentLogger } as any)
    // The caller provides `grading`, so its appends of grading entries can be stored.
    await log.start?.({ log: silentLogger, lookup: async (name: string) => name === 'grading' ? [{ peerId: caller.toString() }] : [], registryId: () => undefined } as any)
    rpc = new RpcServer(libp2p as any, silentLogger)
    await rpc.start([grading, log])
  })

  afterAll(async () => {
    await rpc.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const state = async (): Promise<string> => {
    const students = await rpc.invoke('grading', 'listStudents', {}, 'test') as Array<{ id: number }>
    const each = await Promise.all(students.map(async s => rpc.invoke('grading', 'getStudent', { id: s.id }, 'test')))
    const entries: unknown[] = []
    for await (const e of rpc.invokeStream('log', 'query', { limit: 10_000 }, 'test')) entries.push(e)
    return JSON.stringify({ each, entries })
  }

  const id = fc.integer({ min: 1, max: 8 })
  const name = fc.string({ minLength: 1, maxLength: 10 })
  const entry = (peer: string): fc.Arbitrary<unknown> => fc.record({
    ts: fc.nat(), level: fc.constantFrom('info', 'warn'), service: fc.constant('grading'), peerId: fc.constant(peer), msg: fc.string({ maxLength: 20 }), inc: fc.nat({ max: 3 }), seq: fc.integer({ min: 1, max: 1e6 })
  })
  /** A valid call of every method of both services (appends carrying the caller's own peer id), or a cancel. */
  const call = (peer: string): fc.Arbitrary<unknown> => fc.tuple(fc.integer({ min: 0, max: 20 }), fc.oneof(
    fc.constant({ service: 'grading', method: 'listStudents', params: {} }),
    id.map(i => ({ service: 'grading', method: 'getStudent', params: { id: i } })),
    fc.tuple(name, name).map(([firstName, lastName]) => ({ service: 'grading', method: 'addStudent', params: { firstName, lastName } })),
    id.map(i => ({ service: 'grading', method: 'removeStudent', params: { id: i } })),
    fc.record({ studentId: id, title: name, type: fc.constantFrom('quiz', 'test', 'exam', 'homework'), score: fc.double({ min: 0, max: 100, noNaN: true }) })
      .map(params => ({ service: 'grading', method: 'addGrade', params })),
    fc.tuple(id, id).map(([studentId, gradeId]) => ({ service: 'grading', method: 'removeGrade', params: { studentId, gradeId } })),
    fc.array(entry(peer), { minLength: 1, maxLength: 3 }).map(entries => ({ service: 'log', method: 'append', params: { entries } })),
    fc.constant({ cancel: true })
  )).map(([callId, body]) => ({ id: callId, ...body }))
  const MUTATING = ['addStudent', 'removeStudent', 'addGrade', 'removeGrade', 'append']

  it('every answer decodes and is small, the stream ends, and nothing changes unless a mutating call was answered ok', async () => {
    await fc.assert(fc.asyncProperty(hostileFrames(call(caller.toString())), async frames => {
      const before = await state()
      const answers = await exchange(await libp2p.open(RPC_PROTOCOL, caller), frames) as Array<z.infer<typeof rpcResponse>>
      parses(rpcResponse, answers)
      const mutating = mayChange(frames, j => j?.method, MUTATING)
      const changed = answers.some(a => 'ok' in a && a.ok && mutating(a.id))
      if (!changed) expect(await state()).toEqual(before)
    }), { numRuns: RUNS })
  })
})

describe('a service\'s session: heartbeat and notify streams from the registry, hostile', () => {
  let libp2p: StubLibp2p
  let catalog: Catalog
  let session: RegistrySession
  let registry: PeerId
  let forger: PeerId

  beforeAll(async () => {
    registry = await newPeerId()
    forger = await newPeerId()
    libp2p = new StubLibp2p()
    libp2p.refuse = new Error('connect ECONNREFUSED 127.0.0.1:4001')
    catalog = new Catalog()
    session = new RegistrySession({
      libp2p,
      log: silentLogger,
      now: () => Date.now(),
      random: () => 0,
      catalog,
      selfId: 'self',
      registry: `/ip4/127.0.0.1/tcp/4001/p2p/${registry.toString()}`,
      registrations: () => [{ name: 'demo', addrs: [], requires: ['log'], version: '1', meta: {}, incarnation: 1, seq: 0 }],
      reconnectMinMs: 600_000,
      reconnectMaxMs: 600_000,
      homeCheckMs: 600_000,
      heartbeatIntervalMs: 600_000,
      reapAfterMs: 3_600_000,
      load: () => 0,
      emit: () => {}
    })
    await session.start()
  })

  afterAll(async () => { await session.stop() })

  it('heartbeat probes: every answer is the ack of a probe sent, and the stream ends', async () => {
    const probe = fc.record({ type: fc.constant('probe'), id: fc.nat() })
    await fc.assert(fc.asyncProperty(hostileFrames(probe), async frames => {
      const answers = await exchange(await libp2p.open(HEARTBEAT_PROTOCOL, registry), frames)
      parses(heartbeatAck, answers)
      expect(answers.length).toBeLessThanOrEqual(frames.length)
    }), { numRuns: RUNS })
  })

  it('heartbeat with pushed beats: probes and echoes from the registry, hostile; every answer is an ack or a beat, and the stream ends', async () => {
    const frame = fc.oneof(fc.record({ type: fc.constant('probe'), id: fc.nat() }), fc.record({ type: fc.constant('echo'), id: fc.nat() }))
    await fc.assert(fc.asyncProperty(hostileFrames(frame), async frames => {
      const answers = await exchange(await libp2p.open(HEARTBEAT_PUSH_PROTOCOL, registry), frames)
      parses(heartbeatFromProvider, answers)
      expect(answers.filter(a => (a as { type: string }).type === 'ack').length).toBeLessThanOrEqual(frames.length)
    }), { numRuns: RUNS })
  })

  it('patches: the catalogue changes only by a valid patch from the registry, and the stream ends', async () => {
    const patch = fc.record({ type: fc.constant('patch'), records: fc.array(arb.providerRecord, { maxLength: 3 }) })
    await fc.assert(fc.asyncProperty(hostileFrames(patch), fc.boolean(), async (frames, fromRegistry) => {
      const before = JSON.stringify(catalog.all())
      const valid = frames.some(f => notifyPatch.safeParse(f.json).success)
      const answers = await exchange(await libp2p.open(NOTIFY_PROTOCOL, fromRegistry ? registry : forger), frames)
      expect(answers).toEqual([])
      // Only the registry may patch; from anyone else even a valid patch changes nothing.
      if (!valid || !fromRegistry) expect(JSON.stringify(catalog.all())).toEqual(before)
    }), { numRuns: RUNS })
  })
})
