import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import { InvalidMessageError } from '../../src/node/errors.js'
import { Channel, encodeFrame } from '../../src/node/framing.js'
import { silentLogger } from '../../src/node/logger.js'
import { Cancel, StreamServer, type Answer, type Incoming } from '../../src/node/stream-server.js'
import { connectionFrom, newPeerId } from '../helpers/streams.js'

type Req = { op: 'echo', n: number } | { op: 'count', to: number } | { op: 'wait' }

/** A server whose `wait` requests hold until released, and whose `count` streams items. */
async function setup (maxInFlight = 2) {
  const gate = Promise.withResolvers<void>()
  const cancels: Cancel[] = []
  const server = new StreamServer<Req>({
    protocol: '/test/1.0.0',
    maxBytes: 1024,
    maxInFlight,
    noun: 'request',
    coalesce: true,
    log: silentLogger,
    parse: (json: any): Incoming<Req> => {
      if (typeof json?.id !== 'number') throw new InvalidMessageError('no id')
      if (json.cancel === true) return { id: json.id, cancel: true }
      if (!['echo', 'count', 'wait'].includes(json.req?.op)) return { id: json.id, refused: new InvalidMessageError('unknown op') }
      return { id: json.id, req: json.req }
    },
    handle: async (req, _connection, cancel): Promise<Answer> => {
      cancels.push(cancel)
      if (req.op === 'echo') return { result: req.n }
      if (req.op === 'wait') { await gate.promise; return { result: 'released' } }
      const to = req.to
      return { items: (async function * () { for (let i = 1; i <= to; i++) { yield i; await new Promise(resolve => setTimeout(resolve, 2)) } })() }
    }
  })
  const [client, served] = await streamPair()
  const done = server.serve(served, connectionFrom(await newPeerId()))
  return { server, gate, cancels, done, client, ch: new Channel(client, 1024) }
}

describe('a request\'s cancellation', () => {
  it('aborts a signal read before the cancel, and hands out an aborted one after it', () => {
    const early = new Cancel()
    const signal = early.signal
    expect(signal.aborted).toBe(false)
    early.abort()
    expect(signal.aborted).toBe(true)
    expect(early.aborted).toBe(true)

    const late = new Cancel()
    expect(late.aborted).toBe(false)
    late.abort()
    expect(late.signal.aborted).toBe(true)
    expect(late.signal).toBe(late.signal)
  })
})

describe('the stream server', () => {
  it('answers by id, streams items then end, and stops a stream the caller cancels', async () => {
    const { ch, cancels } = await setup()
    await ch.write({ id: 1, req: { op: 'count', to: 3 } })
    await ch.write({ id: 2, req: { op: 'echo', n: 42 } })
    const frames: unknown[] = []
    while (frames.length < 5) frames.push(await ch.readJson())
    expect(frames).toContainEqual({ id: 2, ok: true, result: 42 })
    expect(frames.filter((f: any) => f.id === 1)).toEqual([{ id: 1, item: 1 }, { id: 1, item: 2 }, { id: 1, item: 3 }, { id: 1, end: true }])

    await ch.write({ id: 3, req: { op: 'count', to: 1_000 } })
    expect(await ch.readJson()).toEqual({ id: 3, item: 1 })
    await ch.write({ id: 3, cancel: true })
    for (;;) { if ((await ch.readJson() as any).end === true) break }
    expect(cancels[2].aborted).toBe(true)
  })

  it('refuses on the id: a bad request, a duplicate id, one beyond maxInFlight', async () => {
    const { ch, gate } = await setup(2)
    await ch.write({ id: 1, req: { op: 'explode' } })
    expect(await ch.readJson()).toMatchObject({ id: 1, ok: false, error: { code: 'INVALID_MESSAGE', message: 'unknown op' } })
    await ch.write({ id: 2, req: { op: 'wait' } })
    await ch.write({ id: 2, req: { op: 'wait' } })
    expect(await ch.readJson()).toMatchObject({ id: 2, ok: false, error: { code: 'INVALID_MESSAGE', message: 'request id 2 is already in flight on this stream' } })
    await ch.write({ id: 3, req: { op: 'wait' } })
    await ch.write({ id: 4, req: { op: 'wait' } })
    expect(await ch.readJson()).toMatchObject({ id: 4, ok: false, error: { code: 'OVERLOADED', retryable: true } })
    gate.resolve()
    const answers = [await ch.readJson(), await ch.readJson()]
    expect(answers).toEqual(expect.arrayContaining([{ id: 2, ok: true, result: 'released' }, { id: 3, ok: true, result: 'released' }]))
  })

  it('bad framing is answered on id 0; what is in flight is answered; then the stream closes', async () => {
    const { client, gate, done, server } = await setup()
    client.send(lp.encode.single(encodeFrame({ id: 1, req: { op: 'wait' } })).subarray())
    client.send(lp.encode.single(encodeFrame({ req: { op: 'echo', n: 1 } })).subarray())
    const answers: unknown[] = []
    const reading = (async () => { for await (const msg of lp.decode(client)) answers.push(JSON.parse(new TextDecoder().decode(msg.subarray()))) })()
    await expect.poll(() => answers).toEqual([{ id: 0, ok: false, error: expect.objectContaining({ code: 'INVALID_MESSAGE', message: 'no id' }) }])
    expect(server.inFlight).toBe(1)
    gate.resolve()
    await done
    await reading
    expect(answers[1]).toEqual({ id: 1, ok: true, result: 'released' })
    expect(server.inFlight).toBe(0)
  })

  it('a stream the caller resets cancels what is running, also after the caller ended its side', async () => {
    const { client, ch, cancels, done } = await setup()
    await ch.write({ id: 1, req: { op: 'wait' } })
    await expect.poll(() => cancels.length).toBe(1)
    client.abort(new Error('caller gone'))
    await expect.poll(() => cancels[0].aborted).toBe(true)
    await done

    const late = await setup()
    await late.ch.write({ id: 1, req: { op: 'wait' } })
    await expect.poll(() => late.cancels.length).toBe(1)
    // A clean end: the server goes on answering what is in flight...
    await late.client.close()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(late.cancels[0].aborted).toBe(false)
    // ...until the stream goes altogether.
    late.client.abort(new Error('caller gone'))
    await expect.poll(() => late.cancels[0].aborted).toBe(true)
  })
})
