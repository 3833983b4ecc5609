import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { NotFoundError } from '../../src/node/errors.js'
import { Channel } from '../../src/node/framing.js'
import { createClientLibp2p, createGdsLibp2p, type ClientLibp2p, type GdsLibp2p } from '../../src/node/libp2p.js'
import { silentLogger } from '../../src/node/logger.js'
import { MuxClient, serveMux, streamed } from '../../src/node/mux.js'
import { REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { registryRequest } from '../../src/node/schemas.js'
import { RegistryClient } from '../../src/node/client.js'

const PROTOCOL = '/gds/test-mux-stream/1.0.0'
const FLOOD = '/gds/test-flood/1.0.0'
const item = z.object({ i: z.number(), pad: z.string() })

/** Streamed answers on the multiplexed protocol (what a paged `list` rides): items, end, cancel, errors. */
describe('streamed answers on one multiplexed stream', () => {
  let server: GdsLibp2p
  let client: ClientLibp2p
  let produced = 0
  let cancelled = 0

  beforeAll(async () => {
    server = await createGdsLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    await serveMux(server, PROTOCOL, async (req: { op: string, n: number }) => {
      switch (req.op) {
        case 'items': return streamed((function * () {
          try {
            // 64 KiB items: n of them outgrow libp2p's 4 MiB read buffer when n > 64.
            for (let i = 0; i < req.n; i++) { produced++; yield { i, pad: 'x'.repeat(64 * 1024) } }
          } finally { cancelled++ }
        })())
        case 'bad-item': return streamed([{ i: 'not a number', pad: '' }])
        case 'fails': return streamed((async function * () { yield { i: 0, pad: '' }; throw new NotFoundError('no such thing') })())
        case 'silent': return streamed((async function * () { yield { i: 0, pad: '' }; await new Promise(() => {}) })())
        default: return { single: true }
      }
    }, { requestSchema: z.strictObject({ op: z.string(), n: z.number().int() }), maxBytes: 1024, maxInFlight: 8, maxInboundStreams: 4, log: silentLogger })
    client = await createClientLibp2p()
  })

  afterAll(async () => {
    await client.stop()
    await server.stop()
  })

  const target = (): ReturnType<GdsLibp2p['getMultiaddrs']>[number] => server.getMultiaddrs()[0]

  it('a slow reader of a Channel gets far more than libp2p\'s read buffer: the sender waits (flow control)', async () => {
    // 200 frames of 64 KiB written at once: 12.5 MiB, three times libp2p's 4 MiB read buffer,
    // which aborted the stream when its reader fell behind (a watch snapshot at the cap).
    await server.handle(FLOOD, (stream) => {
      const ch = new Channel(stream, 128 * 1024)
      void ch.writeAll(Array.from({ length: 200 }, (_, i) => ({ i, pad: 'x'.repeat(64 * 1024) }))).then(async () => ch.close(), () => {})
    })
    const ch = new Channel(await client.dialProtocol(target(), FLOOD), 128 * 1024)
    try {
      for (let n = 0; n < 200; n++) {
        expect((await ch.read(item)).i).toBe(n)
        // Parsing a page of a big catalogue takes a while; here the reader just sleeps.
        if (n % 20 === 0) await new Promise(resolve => setTimeout(resolve, 100))
      }
    } finally {
      ch.abort(new Error('done'))
      await server.unhandle(FLOOD)
    }
  })

  it('a reader that stops early cancels the producer; the link serves the next request', async () => {
    const mux = new MuxClient(client, PROTOCOL, { maxBytes: 1024 * 1024, maxInFlight: 8, timeoutMs: 30_000 })
    produced = 0
    const before = cancelled
    for await (const x of mux.stream(target(), { op: 'items', n: 100_000 }, item)) if (x.i === 2) break
    await expect.poll(() => cancelled, { timeout: 10_000 }).toBe(before + 1)
    expect(produced).toBeLessThan(1_000)
    expect(await mux.request(target(), { op: 'single', n: 0 }, z.object({ single: z.boolean() }))).toEqual({ single: true })
    mux.close()
  })

  it('an item that breaks the schema, a single answer to a streamed request, an error mid-stream: each a clear error', async () => {
    const mux = new MuxClient(client, PROTOCOL, { maxBytes: 1024 * 1024, maxInFlight: 8, timeoutMs: 30_000 })
    const drain = async (op: string): Promise<unknown[]> => { const out: unknown[] = []; for await (const x of mux.stream(target(), { op, n: 1 }, item)) out.push(x); return out }
    await expect(drain('bad-item')).rejects.toMatchObject({ name: 'InvalidMessageError', message: expect.stringMatching(/at i/) })
    await expect(drain('single')).rejects.toMatchObject({ name: 'InvalidMessageError', message: expect.stringMatching(/single answer/) })
    await expect(drain('fails')).rejects.toMatchObject({ name: 'NotFoundError', message: 'no such thing' })
    expect(await drain('items')).toHaveLength(1)
    mux.close()
  })

  it('a server that goes quiet mid-answer is given up on after the idle deadline', async () => {
    const mux = new MuxClient(client, PROTOCOL, { maxBytes: 1024 * 1024, maxInFlight: 8 })
    const got: unknown[] = []
    await expect((async () => { for await (const x of mux.stream(target(), { op: 'silent', n: 0 }, item, { idleMs: 300 })) got.push(x) })())
      .rejects.toMatchObject({ name: 'RequestTimeoutError', message: expect.stringMatching(/sent nothing for 300 ms/) })
    expect(got).toHaveLength(1)
    mux.close()
  })

  it('a flood of streamed requests on one stream: beyond the in-flight limit each is OVERLOADED; stray and malformed cancels change nothing', async () => {
    const mux = new MuxClient(client, PROTOCOL, { maxBytes: 1024 * 1024, maxInFlight: 8, timeoutMs: 30_000 })
    const ac = new AbortController()
    const outcomes = await Promise.all(Array.from({ length: 20 }, async () => {
      try {
        for await (const _ of mux.stream(target(), { op: 'silent', n: 0 }, item, { signal: ac.signal })) return 'served'
        return 'ended'
      } catch (err: any) { return err.name }
    }))
    expect(outcomes.filter(o => o === 'served')).toHaveLength(8)
    expect(outcomes.filter(o => o === 'OverloadedError')).toHaveLength(12)
    // Raw frames on a stream of their own: a cancel of nothing, a malformed cancel, then a request.
    const stream = await client.dialProtocol(target(), PROTOCOL)
    const ch = new Channel(stream, 1024 * 1024)
    await ch.writeAll([{ id: 7, cancel: true }, { id: 8, cancel: 'yes' }, { id: 9, req: { op: 'single', n: 0 } }])
    const answers = [await ch.readJson(), await ch.readJson()] as any[]
    expect(answers.find(a => a.id === 8)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    expect(answers.find(a => a.id === 9)).toEqual({ id: 9, ok: true, result: { single: true } })
    ch.abort(new Error('done'))
    ac.abort()
    mux.close()
  })

  it('gds status against a registry from before paging: it refuses `stream`, the client asks the old way', async () => {
    const old = await createGdsLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const peerId = old.peerId.toString()
      await serveMux(old, REGISTRY_PROTOCOL, async () => ({ registry: { peerId, addrs: [] }, services: [] }),
        { requestSchema: z.discriminatedUnion('op', [z.strictObject({ op: z.literal('list') })]), maxBytes: 1024, maxInFlight: 8, maxInboundStreams: 4, log: silentLogger })
      const rc = await RegistryClient.connect({ registry: old.getMultiaddrs()[0].toString() })
      try {
        expect(await rc.list()).toEqual({ registry: { peerId, addrs: [] }, services: [] })
      } finally {
        await rc.close()
      }
    } finally {
      await old.stop()
    }
  })

  it('the registry request schema takes `stream` only as true, on list and lookup', () => {
    for (const good of [{ op: 'list', stream: true }, { op: 'list' }, { op: 'lookup', name: 'x', stream: true }]) expect(registryRequest.safeParse(good).success).toBe(true)
    for (const bad of [{ op: 'list', stream: false }, { op: 'list', stream: 'yes' }, { op: 'lookup', name: 'x', stream: 1 }, { op: 'deregister', names: ['x'], stream: true }]) {
      expect(registryRequest.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
  })
})
