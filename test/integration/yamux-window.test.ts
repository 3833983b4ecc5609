import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Stream } from '@libp2p/interface'
import { Channel } from '../../src/node/framing.js'
import { createClientLibp2p, type ClientLibp2p } from '../../src/node/libp2p.js'
import type { GdsNode } from '../../src/node/node.js'
import { TestCluster } from '../helpers/nodes.js'

const ECHO = '/gds-test/echo/1.0.0'
const BULK = '/gds-test/bulk/1.0.0'
const frame = z.object({ i: z.number(), pad: z.string().optional() })
/** yamux's frame type of a window update (frame.js). */
const WINDOW_UPDATE = 1

/** Counts the window updates a (yamux) stream sends. */
function countUpdates (stream: Stream): () => number {
  const s = stream as unknown as { sendFrame: (header: { type: number }, ...rest: unknown[]) => unknown }
  let updates = 0
  const send = s.sendFrame
  s.sendFrame = (header, ...rest) => { if (header.type === WINDOW_UPDATE) updates++; return send(header, ...rest) }
  return () => updates
}

describe('yamux window updates, batched (src/node/yamux-window.ts)', () => {
  const cluster = new TestCluster()
  let server: GdsNode
  let client: ClientLibp2p
  let serverUpdates: Array<() => number> = []

  beforeAll(async () => {
    server = await cluster.registry()
    await server.p2p.handle(ECHO, async (stream: Stream) => {
      serverUpdates.push(countUpdates(stream))
      const ch = new Channel(stream, 64 * 1024)
      try { for (;;) await ch.send(await ch.read(frame)) } catch {}
    })
    // 4 MiB in 64 KiB frames: four times the largest window, so the sender needs updates to finish.
    await server.p2p.handle(BULK, async (stream: Stream) => {
      const ch = new Channel(stream, 128 * 1024)
      const pad = 'x'.repeat(64 * 1024)
      for (let i = 0; i < 64; i++) await ch.send({ i, pad })
      await ch.close()
    })
    client = await createClientLibp2p()
  }, 60_000)

  afterAll(async () => {
    await client?.stop()
    await cluster.stopAll()
  })

  it('1,000 small calls and answers on one stream: a handful of window updates each way, not one per frame', async () => {
    serverUpdates = []
    const stream = await client.dialProtocol(server.p2p.getMultiaddrs()[0], ECHO)
    const updates = countUpdates(stream)
    const ch = new Channel(stream, 64 * 1024)
    try {
      for (let i = 0; i < 1000; i++) {
        await ch.send({ i })
        expect(await ch.read(frame)).toEqual({ i })
      }
      // Without batching each side sends one update per data frame it reads: 1,000 here.
      expect(updates()).toBeLessThan(10)
      expect(serverUpdates[0]()).toBeLessThan(10)
    } finally {
      ch.abort(new Error('done'))
    }
  }, 60_000)

  it('a transfer four times the window completes, every frame in order', async () => {
    const stream = await client.dialProtocol(server.p2p.getMultiaddrs()[0], BULK)
    const updates = countUpdates(stream)
    const ch = new Channel(stream, 128 * 1024)
    for (let i = 0; i < 64; i++) {
      const f = await ch.read(frame)
      expect(f.i).toBe(i)
      expect(f.pad?.length).toBe(64 * 1024)
      // A slow reader: the Channel pauses the stream, and the updates resume it.
      if (i % 8 === 0) await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(updates()).toBeGreaterThan(0)
  }, 60_000)
})
