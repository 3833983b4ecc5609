import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PeerId, Stream } from '@libp2p/interface'
import { Channel } from '../../src/node/framing.js'
import type { Logger } from '../../src/node/logger.js'
import { MAX_NOTIFY_FRAME, NOTIFY_PROTOCOL } from '../../src/node/protocols.js'
import { notifyPatch, type ProviderRecord } from '../../src/node/schemas.js'
import { Notifier } from '../../src/services/registry/notifier.js'
import { eventually } from '../helpers/nodes.js'
import { StubLibp2p, newPeerId } from '../helpers/streams.js'

/** A provider's peer id (any valid one: the notifier does not look inside records). */
const PROVIDER = '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDUBzTUgAvzHnxL2JNk'

function record (name: string, seq: number): ProviderRecord {
  return { name, peerId: PROVIDER, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq, status: 'up' }
}

describe('the notifier, over in-memory streams', () => {
  let dependent: PeerId
  let libp2p: StubLibp2p
  let notifier: Notifier
  let warnings: string[]
  /** The patch frames each notify stream carried, by dial number (from 1). */
  let received: Map<number, ProviderRecord[][]>
  let streams: Map<number, Stream>
  /** The gossip batches each frame named, in order (undefined: none). */
  let delivered: Array<string[] | undefined>
  const snapshot = [record('log', 40), record('grading', 41)]

  beforeEach(async () => {
    dependent = await newPeerId()
    libp2p = new StubLibp2p()
    warnings = []
    received = new Map()
    streams = new Map()
    delivered = []
    libp2p.answer(NOTIFY_PROTOCOL, async (remote, dial) => {
      streams.set(dial, remote)
      const frames: ProviderRecord[][] = []
      received.set(dial, frames)
      const ch = new Channel(remote, MAX_NOTIFY_FRAME)
      for (;;) {
        const frame = await ch.read(notifyPatch)
        frames.push(frame.records)
        delivered.push(frame.delivered)
      }
    })
    const log = { warn: (_: unknown, msg: string) => { warnings.push(msg) }, debug: () => {} }
    notifier = new Notifier(libp2p, log as unknown as Logger, peerId => peerId === dependent.toString() ? snapshot : [], { resyncDelayMs: 10 })
  })

  afterEach(() => { notifier.stop() })

  it('sends patches in order, everything queued during a write in one frame', async () => {
    const peer = dependent.toString()
    // All three queue while the stream is being opened: one frame.
    notifier.send(peer, [record('log', 1)])
    notifier.send(peer, [record('log', 2)])
    notifier.send(peer, [record('grading', 1), record('grading', 2)])
    await eventually(() => { expect(received.get(1)).toHaveLength(1) })
    notifier.send(peer, [record('log', 3)])
    await eventually(() => { expect(received.get(1)).toHaveLength(2) })
    expect(received.get(1)).toEqual([
      [record('log', 1), record('log', 2), record('grading', 1), record('grading', 2)],
      [record('log', 3)]
    ])
    expect(libp2p.dials).toHaveLength(1)
  })

  it('names the gossip batches of what it sends once, on the frame that completes them', async () => {
    const peer = dependent.toString()
    notifier.send(peer, [record('log', 1)], 'batch00000000000')
    notifier.send(peer, [record('log', 2)], 'batch00000000000')
    notifier.send(peer, [record('log', 3)])
    notifier.send(peer, [record('log', 4)], 'batch00000000001')
    await eventually(() => { expect(received.get(1)).toHaveLength(1) })
    notifier.send(peer, [record('log', 5)])
    await eventually(() => { expect(received.get(1)).toHaveLength(2) })
    expect(delivered).toEqual([['batch00000000000', 'batch00000000001'], undefined])
  })

  it('a dependent that does not keep up is resynced with the snapshot on a new stream', async () => {
    const peer = dependent.toString()
    const slow = Promise.withResolvers<void>()
    libp2p.holdNextDial = slow.promise
    for (let seq = 1; seq <= 1_001; seq++) notifier.send(peer, [record('log', seq)])
    expect(warnings).toEqual(['dependent is not keeping up with patches; resyncing it on a new stream'])
    await eventually(() => { expect(received.get(2)).toEqual([snapshot]) })
    // The first dial completes after its link was given up: nothing goes out on it.
    slow.resolve()
    await eventually(() => { expect(streams.get(1)?.status).toMatch(/^(aborted|reset|closed)$/) })
    expect(received.get(1)).toEqual([])
  })

  it('a broken stream is resynced later with the snapshot', async () => {
    const peer = dependent.toString()
    notifier.send(peer, [record('log', 1)])
    await eventually(() => { expect(received.get(1)).toHaveLength(1) })
    streams.get(1)?.abort(new Error('dependent restarted its side'))
    await eventually(() => { expect(received.get(2)).toEqual([snapshot]) })
    // Later patches follow on the new stream.
    notifier.send(peer, [record('log', 2)])
    await eventually(() => { expect(received.get(2)).toEqual([snapshot, [record('log', 2)]]) })
    expect(libp2p.dials).toHaveLength(2)
  })

  it('close() ends the stream with no resync; the next patch opens a new one; stop() ends it all', async () => {
    const peer = dependent.toString()
    notifier.send(peer, [record('log', 1)])
    await eventually(() => { expect(received.get(1)).toHaveLength(1) })
    notifier.close(peer)
    await eventually(() => { expect(streams.get(1)?.status).not.toBe('open') })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(libp2p.dials).toHaveLength(1)
    notifier.send(peer, [record('log', 2)])
    await eventually(() => { expect(received.get(2)).toEqual([[record('log', 2)]]) })
    notifier.stop()
    await eventually(() => { expect(streams.get(2)?.status).not.toBe('open') })
    notifier.send(peer, [record('log', 3)])
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(libp2p.dials).toHaveLength(2)
  })
})
