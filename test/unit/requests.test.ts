import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { Requests } from '../../src/node/requests.js'

interface Frame { id: number, ok?: boolean, item?: number, end?: true }

class Timeout extends Error { name = 'Timeout' }
class Cancelled extends Error { name = 'Cancelled' }

/** A request whose sends are recorded, so the test plays the other side. */
function harness (init: { maxInFlight?: number } = {}) {
  const requests = new Requests<Frame>(init)
  const sent: number[] = []
  const ask = async (opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<Frame> => requests.request(id => { sent.push(id) }, {
    timeoutMs: opts.timeoutMs ?? 5_000,
    timedOut: () => new Timeout('no answer'),
    signal: opts.signal,
    cancelled: () => new Cancelled('cancelled')
  })
  return { requests, sent, ask }
}

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('the request engine', () => {
  it('matches each answer to its request by id, in any order', async () => {
    const { requests, sent, ask } = harness()
    const a = ask()
    const b = ask()
    expect(sent).toEqual([1, 2])
    requests.deliver(2, { id: 2, ok: true })
    requests.deliver(1, { id: 1, ok: false })
    expect(await a).toEqual({ id: 1, ok: false })
    expect(await b).toEqual({ id: 2, ok: true })
  })

  it('fails a request with no answer by its deadline, and drops the late answer', async () => {
    const { requests, ask } = harness()
    await expect(ask({ timeoutMs: 5 })).rejects.toBeInstanceOf(Timeout)
    const next = ask()
    // The late answer to id 1 reaches nobody; id 2 still waits for its own.
    requests.deliver(1, { id: 1, ok: true })
    requests.deliver(2, { id: 2, item: 7 })
    expect(await next).toEqual({ id: 2, item: 7 })
  })

  it('fails a request whose signal aborts, and one whose signal aborted already', async () => {
    const { sent, ask } = harness()
    const ac = new AbortController()
    const pending = ask({ signal: ac.signal })
    ac.abort()
    await expect(pending).rejects.toBeInstanceOf(Cancelled)
    await expect(ask({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Cancelled)
    expect(sent).toEqual([1])
  })

  it('fails every request when the link breaks, and every later one', async () => {
    const { requests, ask } = harness()
    const a = ask()
    const b = ask()
    const broken = new Error('stream reset')
    requests.fail(broken)
    await expect(a).rejects.toBe(broken)
    await expect(b).rejects.toBe(broken)
    await expect(ask()).rejects.toBe(broken)
    expect(requests.failure).toBe(broken)
  })

  it('fails a request whose send is rejected', async () => {
    const requests = new Requests<Frame>()
    const err = new Error('write failed')
    await expect(requests.request(async () => { throw err }, { timeoutMs: 5_000, timedOut: () => new Timeout('x') })).rejects.toBe(err)
  })

  it('ignores frames that are not the answer', async () => {
    const requests = new Requests<Frame>()
    const pending = requests.request(() => {}, { timeoutMs: 5_000, timedOut: () => new Timeout('x'), isAnswer: (f): f is Frame => f.ok !== undefined })
    requests.deliver(1, { id: 1, item: 1 })
    requests.deliver(1, { id: 1, ok: true })
    expect(await pending).toEqual({ id: 1, ok: true })
  })

  it('queues beyond maxInFlight, first come first served; one that times out in line leaves it', async () => {
    const { requests, sent, ask } = harness({ maxInFlight: 2 })
    const a = ask()
    const b = ask()
    const gone = ask({ timeoutMs: 5 })
    const c = ask()
    const d = ask()
    await turn()
    expect(sent).toEqual([1, 2])
    await expect(gone).rejects.toBeInstanceOf(Timeout)
    requests.deliver(2, { id: 2, ok: true })
    await b
    await turn()
    // The slot went to the first still in line (4), not to the one that left (3).
    expect(sent).toEqual([1, 2, 4])
    requests.deliver(1, { id: 1, ok: true })
    await a
    await turn()
    expect(sent).toEqual([1, 2, 4, 5])
    requests.deliver(4, { id: 4, ok: true })
    requests.deliver(5, { id: 5, ok: true })
    expect(await Promise.all([c, d])).toEqual([{ id: 4, ok: true }, { id: 5, ok: true }])
  })

  it('wakes the requests in line when the link breaks, and they fail', async () => {
    const { requests, sent, ask } = harness({ maxInFlight: 1 })
    const a = ask()
    const queued = ask()
    await turn()
    const broken = new Error('gone')
    requests.fail(broken)
    await expect(a).rejects.toBe(broken)
    await expect(queued).rejects.toBe(broken)
    expect(sent).toEqual([1])
  })
})

describe('a streamed answer', () => {
  function open (requests: Requests<Frame>, cancelled: number[], signal?: AbortSignal) {
    return requests.stream(async () => {}, {
      signal,
      cancelled: () => new Cancelled('cancelled'),
      isLast: f => f.end === true,
      cancel: id => { cancelled.push(id) }
    })
  }

  it('yields every frame up to the last, and cancels nothing', async () => {
    const requests = new Requests<Frame>()
    const cancelled: number[] = []
    const frames = open(requests, cancelled)
    const first = frames.next()
    requests.deliver(1, { id: 1, item: 1 })
    requests.deliver(1, { id: 1, item: 2 })
    requests.deliver(1, { id: 1, end: true })
    const got = [(await first).value]
    for await (const f of frames) got.push(f)
    expect(got).toEqual([{ id: 1, item: 1 }, { id: 1, item: 2 }, { id: 1, end: true }])
    expect(cancelled).toEqual([])
  })

  it('tells the other side when the consumer stops early', async () => {
    const requests = new Requests<Frame>()
    const cancelled: number[] = []
    const frames = open(requests, cancelled)
    const first = frames.next()
    requests.deliver(1, { id: 1, item: 1 })
    expect((await first).value).toEqual({ id: 1, item: 1 })
    await frames.return(undefined)
    expect(cancelled).toEqual([1])
    // Frames after the cancel reach nobody.
    requests.deliver(1, { id: 1, item: 2 })
  })

  it('fails on abort (and cancels), and on a broken link (nothing to cancel on)', async () => {
    const requests = new Requests<Frame>()
    const cancelled: number[] = []
    const ac = new AbortController()
    const aborted = open(requests, cancelled, ac.signal).next()
    ac.abort()
    await expect(aborted).rejects.toBeInstanceOf(Cancelled)
    expect(cancelled).toEqual([1])
    const broken = open(requests, cancelled).next()
    await turn()
    requests.fail(new Error('reset'))
    await expect(broken).rejects.toThrow('reset')
    expect(cancelled).toEqual([1])
  })

  it('an answer that arrived while the event loop stalled past the deadline still counts', async () => {
    // A real loopback socket, so the answer comes as I/O: the case of a loaded registry whose
    // probe timer and ack come due in the same turn of the loop.
    let peer: Socket | undefined
    const server = createServer(s => { peer = s })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
    await new Promise(resolve => socket.once('connect', resolve))
    while (peer === undefined) await turn()
    try {
      const { requests, ask } = harness()
      socket.on('data', () => { requests.deliver(1, { id: 1, ok: true }) })
      const answer = ask({ timeoutMs: 20 })
      peer.write('ack')
      // Block the loop well past the deadline: the ack is in the socket buffer by then.
      const until = Date.now() + 80
      while (Date.now() < until) { /* a stalled event loop */ }
      expect(await answer).toEqual({ id: 1, ok: true })
    } finally {
      socket.destroy()
      peer.destroy()
      server.close()
    }
  })
})
