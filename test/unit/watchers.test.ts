import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { Channel } from '../../src/node/framing.js'
import type { Logger } from '../../src/node/logger.js'
import { MAX_REGISTRY_FRAME, WATCH_PROTOCOL } from '../../src/node/protocols.js'
import { watchMessage, type ListResult, type ProviderRecord } from '../../src/node/schemas.js'
import { Watchers } from '../../src/services/registry/watchers.js'
import { eventually } from '../helpers/nodes.js'
import { StubLibp2p, newPeerId } from '../helpers/streams.js'

describe('the watchers, over in-memory streams', () => {
  let observer: PeerId
  let libp2p: StubLibp2p
  let watchers: Watchers
  let list: ListResult
  let warnings: string[]
  let record: (seq: number) => ProviderRecord

  beforeEach(async () => {
    observer = await newPeerId()
    const registry = (await newPeerId()).toString()
    const provider = (await newPeerId()).toString()
    record = seq => ({ name: 'log', peerId: provider, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq, status: 'up' })
    list = { registry: { peerId: registry, addrs: [] }, services: [record(1)] }
    libp2p = new StubLibp2p()
    warnings = []
    const log = { warn: (_: unknown, msg: string) => { warnings.push(msg) } }
    watchers = new Watchers(libp2p, log as unknown as Logger, () => list, () => 7_000)
    await watchers.start()
  })

  afterEach(async () => { await watchers.stop() })

  async function watch (): Promise<{ ch: Channel, next: () => Promise<unknown> }> {
    const ch = new Channel(await libp2p.open(WATCH_PROTOCOL, observer), MAX_REGISTRY_FRAME)
    await ch.write({ type: 'watch' })
    return { ch, next: async () => ch.read(watchMessage) }
  }

  it('sends the snapshot, then every change in order', async () => {
    const { next } = await watch()
    expect(await next()).toEqual({ type: 'snapshot', ts: 7_000, ...list })
    watchers.publish([{ record: record(2), previous: 'up' }, { record: { ...record(3), status: 'down' }, previous: 'up' }])
    watchers.publish([{ record: record(3), removed: true }])
    expect(await next()).toEqual({ type: 'change', ts: 7_000, record: record(2), previous: 'up' })
    expect(await next()).toEqual({ type: 'change', ts: 7_000, record: { ...record(3), status: 'down' }, previous: 'up' })
    expect(await next()).toEqual({ type: 'change', ts: 7_000, record: record(3), removed: true })
  })

  it('drops an observer that does not keep up', async () => {
    const { ch, next } = await watch()
    await next()
    // All published before the first write can finish: the queue overflows.
    for (let seq = 2; seq <= 10_003; seq++) watchers.publish([{ record: record(seq) }])
    await eventually(() => { expect(ch.stream.status).not.toBe('open') })
    await expect(async () => { for (;;) await next() }).rejects.toThrow()
  })

  it('refuses a bad watch request', async () => {
    const ch = new Channel(await libp2p.open(WATCH_PROTOCOL, observer), MAX_REGISTRY_FRAME)
    await ch.write({ type: 'subscribe' })
    await eventually(() => { expect(ch.stream.status).not.toBe('open') })
    expect(warnings).toEqual(['bad watch request'])
  })

  it('stop() ends every observer and the handler', async () => {
    const { ch, next } = await watch()
    await next()
    await watchers.stop()
    await eventually(() => { expect(ch.stream.status).not.toBe('open') })
    expect(libp2p.handlers.has(WATCH_PROTOCOL)).toBe(false)
  })
})
