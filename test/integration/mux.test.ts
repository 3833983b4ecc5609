import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as lp from 'it-length-prefixed'
import { z } from 'zod'
import { createClientLibp2p, createGdsLibp2p, type ClientLibp2p, type GdsLibp2p } from '../../src/node/libp2p.js'
import { silentLogger } from '../../src/node/logger.js'
import { MuxClient, serveMux } from '../../src/node/mux.js'
import { encodeFrame } from '../../src/node/framing.js'

const PROTOCOL = '/gds/test-mux/1.0.0'
const dec = new TextDecoder()

/** Multiplexed requests against a server whose handler waits at a gate: in-flight limits, queueing. */
describe('multiplexed requests on one stream', () => {
  let server: GdsLibp2p
  let client: ClientLibp2p
  let gate: ReturnType<typeof Promise.withResolvers<void>>
  let inHandler = 0
  let maxInHandler = 0
  let arrived: ReturnType<typeof Promise.withResolvers<void>>
  let arrivals = 0
  let expected = 0

  beforeEach(async () => {
    gate = Promise.withResolvers()
    arrived = Promise.withResolvers()
    inHandler = 0; maxInHandler = 0; arrivals = 0; expected = Infinity
    server = await createGdsLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    await serveMux(server, PROTOCOL, async (req: { n: number }) => {
      inHandler++; maxInHandler = Math.max(maxInHandler, inHandler)
      if (++arrivals >= expected) arrived.resolve()
      await gate.promise
      inHandler--
      return { n: req.n * 2 }
    }, { requestSchema: z.strictObject({ n: z.number().int() }), maxBytes: 1024, maxInFlight: 2, maxInboundStreams: 4, log: silentLogger })
    client = await createClientLibp2p()
  })

  afterEach(async () => {
    await client.stop()
    await server.stop()
  })

  async function exchange (frames: unknown[], until: number): Promise<any[]> {
    const stream = await client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL)
    for (const f of frames) stream.send(lp.encode.single(encodeFrame(f)).subarray())
    await stream.close()
    const answers: any[] = []
    for await (const msg of lp.decode(stream)) {
      answers.push(JSON.parse(dec.decode(msg.subarray())))
      if (answers.length === until) gate.resolve()
    }
    return answers
  }

  it('refuses requests beyond the in-flight limit and a duplicate id, and answers the rest', async () => {
    // Ids 1 and 2 wait at the gate; the duplicate 1 and the third in flight are refused at once,
    // and those two refusals open the gate.
    const answers = await exchange([{ id: 1, req: { n: 1 } }, { id: 1, req: { n: 5 } }, { id: 2, req: { n: 2 } }, { id: 3, req: { n: 3 } }], 2)
    expect(answers.slice(0, 2)).toEqual([
      { id: 1, ok: false, error: expect.objectContaining({ code: 'INVALID_MESSAGE', message: 'request id 1 is already in flight on this stream' }) },
      { id: 3, ok: false, error: expect.objectContaining({ code: 'OVERLOADED', retryable: true }) }
    ])
    expect(answers.slice(2).sort((a, b) => a.id - b.id)).toEqual([{ id: 1, ok: true, result: { n: 2 } }, { id: 2, ok: true, result: { n: 4 } }])
    expect(maxInHandler).toBe(2)
  })

  it('a client queues beyond its in-flight limit instead of being refused', async () => {
    const requests = new MuxClient(client, PROTOCOL, { maxBytes: 1024, maxInFlight: 2, timeoutMs: 10_000 })
    expected = 2
    const all = Promise.all([1, 2, 3, 4, 5].map(async n => requests.request(server.getMultiaddrs()[0], { n }, z.object({ n: z.number() }))))
    await arrived.promise
    expect(inHandler).toBe(2)
    gate.resolve()
    expect(await all).toEqual([2, 4, 6, 8, 10].map(n => ({ n })))
    expect(maxInHandler).toBe(2)
    requests.close()
  })

  it('rebuilds a typed error from the answer and times out a request with no answer', async () => {
    const requests = new MuxClient(client, PROTOCOL, { maxBytes: 1024, maxInFlight: 2 })
    await expect(requests.request(server.getMultiaddrs()[0], { n: 'x' }, z.unknown())).rejects.toMatchObject({ name: 'InvalidMessageError', message: expect.stringMatching(/req\.n/) })
    await expect(requests.request(server.getMultiaddrs()[0], { n: 1 }, z.unknown(), { timeoutMs: 200 })).rejects.toMatchObject({ name: 'RequestTimeoutError' })
    gate.resolve()
    // The link survived both.
    expect(await requests.request(server.getMultiaddrs()[0], { n: 4 }, z.object({ n: z.number() }))).toEqual({ n: 8 })
    requests.close()
  })
})
