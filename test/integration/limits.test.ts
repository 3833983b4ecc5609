import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { RegistryClient } from '../../src/node/client.js'
import { encodeFrame } from '../../src/node/framing.js'
import { createClientLibp2p, type ClientLibp2p } from '../../src/node/libp2p.js'
import { MuxClient } from '../../src/node/mux.js'
import type { GdsNode } from '../../src/node/node.js'
import { MAX_NAMES_PER_PEER, MAX_REGISTRY_FRAME, MAX_REGISTRY_IN_FLIGHT, MAX_REQUEST_FRAME, REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { registerResult, type Registration, type WatchMessage } from '../../src/node/schemas.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster } from '../helpers/nodes.js'

/** The cap of this registry: 300 entries of maximum size are ~16 MB, four times the largest frame. */
const CAP = 300
const PEERS = Math.ceil(CAP / MAX_NAMES_PER_PEER)

const small = (name: string): Registration => ({ name, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0 })

/** A registration as big as one register request may carry (the request frame is 64 KiB). */
function biggest (name: string): Registration {
  const label = (i: number, c: string): string => `${c}${String(i).padStart(2, '0')}`.padEnd(63, c)
  return {
    name: name.padEnd(63, 'x'),
    addrs: Array.from({ length: 16 }, (_, i) => `/dns4/${'a'.repeat(470)}${i}.example/tcp/${1000 + i}`),
    requires: Array.from({ length: 32 }, (_, i) => label(i, 'r')),
    version: 'v'.repeat(64),
    // Non-ASCII and control characters weigh several bytes each in JSON.
    meta: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`${i}`.padEnd(64, '€'), '€'.repeat(128) + '\u0001'.repeat(120)])),
    incarnation: 1,
    seq: 0
  }
}

describe('limits at the cap: a full catalogue of maximum-size entries (in-process registry)', () => {
  const cluster = new TestCluster()
  let registry: GdsNode
  let addr: string
  const peers: ClientLibp2p[] = []
  const muxes: MuxClient[] = []

  const register = async (p: number, regs: Registration[]): Promise<unknown> =>
    muxes[p].request(registry.p2p.getMultiaddrs()[0], { op: 'register', services: regs }, registerResult, { timeoutMs: 30_000 })

  beforeAll(async () => {
    // These peers answer no heartbeats: slow timings keep their entries up for the whole file.
    // One slot beyond the fill, for the dependent below.
    registry = await cluster.registry({ maxEntries: CAP + 1, heartbeatIntervalMs: 600_000, heartbeatTimeoutMs: 500, reapAfterMs: 600_000 })
    addr = pickAddr(registry.addrs)
    for (let p = 0; p < PEERS; p++) {
      peers.push(await createClientLibp2p())
      muxes.push(new MuxClient(peers[p], REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: MAX_REGISTRY_IN_FLIGHT }))
    }
    // Connected first, one at a time: dials during the flood below would wait on a busy registry.
    for (const p of peers) await p.dial(registry.p2p.getMultiaddrs()[0])
    // Each peer fills its names one request at a time (a request holds one maximum-size entry).
    await Promise.all(peers.map(async (_, p) => {
      // Every peer provides the same names: each has about 19 providers, 1 MB of records.
      for (let n = 0; n < MAX_NAMES_PER_PEER && p * MAX_NAMES_PER_PEER + n < CAP; n++) await register(p, [biggest(`n${n}`)])
    }))
  }, 120_000)

  afterAll(async () => {
    for (const m of muxes) m.close()
    await Promise.all(peers.map(async p => p.stop()))
    await cluster.stopAll()
  })

  it('the entries are as big as a request allows, and the table is far past one frame', () => {
    const one = encodeFrame({ id: 1, req: { op: 'register', services: [biggest('n0')] } }).byteLength
    expect(one).toBeLessThanOrEqual(MAX_REQUEST_FRAME)
    expect(one).toBeGreaterThan(MAX_REQUEST_FRAME * 0.75)
    expect(registry.catalog.size).toBe(CAP)
    expect(encodeFrame(registry.registry!.list()).byteLength).toBeGreaterThan(3 * MAX_REGISTRY_FRAME)
  })

  it('gds status (RegistryClient.list) gets the whole catalogue, in pages', async () => {
    const client = await RegistryClient.connect({ registry: addr, timeoutMs: 30_000 })
    try {
      const list = await client.list()
      expect(list.registry.peerId).toBe(registry.peerId)
      expect(list.services).toHaveLength(CAP)
      expect(new Set(list.services.map(s => `${s.name}/${s.peerId}`)).size).toBe(CAP)
      expect(list.services[0].meta).toEqual(biggest('x').meta)
    } finally {
      await client.close()
    }
  })

  it('a new watcher (status --watch, a newly started web UI) gets the whole snapshot, then changes', async () => {
    const client = await RegistryClient.connect({ registry: addr, timeoutMs: 30_000 })
    const ac = new AbortController()
    try {
      const seen: WatchMessage[] = []
      for await (const msg of client.watch(ac.signal)) {
        seen.push(msg)
        if (msg.type === 'snapshot') {
          expect(msg.services).toHaveLength(CAP)
          expect(msg.registry.peerId).toBe(registry.peerId)
          expect('more' in msg).toBe(false)
          // A change after the snapshot reaches the watcher too (a re-registration of a known name).
          await register(0, [{ ...biggest('n0'), incarnation: 2 }])
        }
        if (msg.type === 'change') break
      }
      expect(seen.map(m => m.type)).toEqual(expect.arrayContaining(['snapshot', 'change']))
      expect(seen[0].type).toBe('snapshot')
    } finally {
      ac.abort()
      await client.close()
    }
  })

  it('a dependent of names with 5 MB of providers registers: the answer leaves them out, it pages through lookups', async () => {
    const names = ['n0', 'n1', 'n2', 'n3', 'n4'].map(n => biggest(n).name)
    const dep = await cluster.service(registry, 'dep', names)
    const reg = await cluster.waitFor(dep, e => e.event === 'registered', 60_000, 'registered') as any
    expect(reg.missing).toEqual([])
    expect(reg.providers).toHaveLength(names.length * PEERS)
    for (const n of names) expect(dep.catalog.providersOf(n)).toHaveLength(PEERS)
  }, 90_000)

  it('a new entry past the cap is refused with CatalogFullError, and nothing changes', async () => {
    const other = await createClientLibp2p()
    const mux = new MuxClient(other, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: 4 })
    try {
      const before = registry.registry!.list().services
      await expect(mux.request(registry.p2p.getMultiaddrs()[0], { op: 'register', services: [small('late')] }, registerResult))
        .rejects.toMatchObject({ name: 'CatalogFullError', code: 'CATALOG_FULL', message: expect.stringMatching(/catalogue is full \(301 entries/) })
      expect(registry.registry!.list().services).toEqual(before)
      expect(registry.catalog.get('late', other.peerId.toString())).toBeUndefined()
    } finally {
      mux.close()
      await other.stop()
    }
  })

  it('a peer at its names is refused a 17th by TooManyNamesError over several registrations, and nothing changes', async () => {
    const size = registry.catalog.size
    await expect(register(0, [small('seventeenth')]))
      .rejects.toMatchObject({ name: 'TooManyNamesError', code: 'TOO_MANY_NAMES' })
    expect(registry.catalog.size).toBe(size)
    expect(registry.catalog.ofPeer(peers[0].peerId.toString())).toHaveLength(MAX_NAMES_PER_PEER)
  })

  it('a reader that stops early cancels the rest of a streamed list; the link goes on', async () => {
    const mux = muxes[1]
    const target = registry.p2p.getMultiaddrs()[0]
    for await (const page of mux.stream(target, { op: 'list', stream: true }, z.object({ services: z.array(z.unknown()) }))) {
      expect(page.services.length).toBeGreaterThan(0)
      expect(page.services.length).toBeLessThan(CAP)
      break
    }
    const pages: number[] = []
    for await (const page of mux.stream(target, { op: 'list', stream: true }, z.object({ services: z.array(z.unknown()) }))) pages.push(page.services.length)
    expect(pages.length).toBeGreaterThan(1)
    expect(pages.reduce((a, b) => a + b, 0)).toBe(registry.catalog.size)
  })
})
