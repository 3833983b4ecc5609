import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import { peerIdFromString } from '@libp2p/peer-id'
import { createClientLibp2p, type ClientLibp2p } from '../../src/node/libp2p.js'
import { HEARTBEAT_PROTOCOL, MAX_REQUEST_FRAME, NOTIFY_PROTOCOL, REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { encodeFrame } from '../../src/node/framing.js'
import type { GdsNode } from '../../src/node/node.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

const dec = new TextDecoder()

/** Sends raw bytes on a fresh registry stream and returns the decoded answer (or the error that reset it). */
async function rawRequest (client: ClientLibp2p, registry: GdsNode, bytes: Uint8Array): Promise<any> {
  const stream = await client.dialProtocol(peerIdFromString(registry.peerId), REGISTRY_PROTOCOL)
  stream.send(bytes)
  await stream.close()
  const reader = lpStream(stream, { maxDataLength: 1 << 20 })
  const answer = await reader.read({ signal: AbortSignal.timeout(5_000) })
  return JSON.parse(dec.decode(answer.subarray()))
}

function frame (value: unknown): Uint8Array {
  return lp.encode.single(encodeFrame(value)).subarray()
}

/** A registry request frame: multiplexed requests carry an id. */
function request (req: unknown, id = 1): Uint8Array {
  return frame({ id, req })
}

/** Sends frames on one registry stream, half-closes, and returns every answer until the registry closes. */
async function exchange (client: ClientLibp2p, registry: GdsNode, frames: Uint8Array[]): Promise<any[]> {
  const stream = await client.dialProtocol(peerIdFromString(registry.peerId), REGISTRY_PROTOCOL)
  for (const f of frames) stream.send(f)
  await stream.close()
  const answers: any[] = []
  for await (const msg of lp.decode(stream)) answers.push(JSON.parse(dec.decode(msg.subarray())))
  return answers
}

describe('bad input on every protocol: a clear error, and nothing changes', () => {
  const cluster = new TestCluster()
  let client: ClientLibp2p
  let registry: GdsNode
  let demo: GdsNode

  beforeEach(async () => {
    registry = await cluster.registry()
    demo = await cluster.service(registry, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'registered')
    client = await createClientLibp2p()
    await client.dial(registry.p2p.getMultiaddrs()[0])
  })

  afterEach(async () => {
    await client.stop()
    await cluster.stopAll()
  })

  function snapshot (): string {
    return JSON.stringify(registry.catalog.all().map(r => ({ ...r, lastSeen: 0, rttMs: 0, load: 0 })))
  }

  /** Which entries exist, at which version from their owner (heartbeats on a loaded box may bump seq and status). */
  function entries (): string[] {
    return registry.catalog.all().map(r => `${r.name}:${r.peerId}:${r.incarnation}:${r.addrs.join(',')}`).sort()
  }

  it('answers garbage bytes with INVALID_MESSAGE', async () => {
    const before = snapshot()
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41, 0x42])
    const answer = await rawRequest(client, registry, lp.encode.single(bytes).subarray())
    expect(answer).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    expect(snapshot()).toEqual(before)
  })

  it('answers an oversized frame with FRAME_TOO_LARGE without reading it', async () => {
    const before = snapshot()
    const big = new Uint8Array(MAX_REQUEST_FRAME + 1).fill(0x20)
    const answer = await rawRequest(client, registry, lp.encode.single(big).subarray())
    expect(answer).toMatchObject({ ok: false, error: { code: 'FRAME_TOO_LARGE' } })
    expect(snapshot()).toEqual(before)
  })

  it('answers a message of the wrong shape, naming where it is wrong', async () => {
    const before = snapshot()
    const cases = [
      { op: 'explode' },
      { op: 'register' },
      { op: 'register', services: [{ name: '<script>alert(1)</script>', addrs: [], incarnation: 1, seq: 0 }] },
      { op: 'register', services: [{ name: 'ok', addrs: [], incarnation: -1, seq: 0 }] },
      { op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1, seq: 0, peerId: registry.peerId }] },
      { op: 'register', services: Array.from({ length: 17 }, (_, i) => ({ name: `s${i}`, addrs: [], incarnation: 1, seq: 0 })) },
      { op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1, seq: 0 }, { name: 'ok', addrs: [], incarnation: 1, seq: 1 }] },
      { op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1, seq: Number.MAX_SAFE_INTEGER }] },
      { op: 'register', services: [{ name: 'ok', addrs: [], incarnation: Number.MAX_SAFE_INTEGER, seq: 0 }] },
      { op: 'lookup', name: 'A B' },
      { op: 'suspect', peerId: 'not a peer id' },
      [1, 2, 3],
      'register'
    ]
    for (const body of cases) {
      const answer = await rawRequest(client, registry, request(body))
      expect(answer, JSON.stringify(body).slice(0, 80)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    }
    const named = await rawRequest(client, registry, request(cases[2]))
    expect(named.error.message).toMatch(/services\.0\.name/)
    expect(snapshot()).toEqual(before)
  })

  it('answers a frame without an id on id 0 and closes that stream only', async () => {
    const before = snapshot()
    for (const body of [{ op: 'list' }, { id: 0, req: { op: 'list' } }, { id: 'x', req: { op: 'list' } }, null]) {
      const answer = await rawRequest(client, registry, frame(body))
      expect(answer, JSON.stringify(body)).toMatchObject({ id: 0, ok: false, error: { code: 'INVALID_MESSAGE', message: expect.stringMatching(/id/) } })
    }
    expect(snapshot()).toEqual(before)
  })

  it('answers a wrong request by its id and keeps the stream for the next ones', async () => {
    const before = snapshot()
    const answers = await exchange(client, registry, [
      request({ op: 'explode' }, 1),
      frame({ id: 2, req: { op: 'list' }, extra: true }),
      request({ op: 'lookup', name: 'demo' }, 3),
      request({ op: 'list' }, 4)
    ])
    const byId = new Map(answers.map(a => [a.id, a]))
    expect(byId.get(1)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    expect(byId.get(2)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    expect(byId.get(3)).toMatchObject({ ok: true, result: { providers: [{ name: 'demo' }] } })
    expect(byId.get(4)?.result.services.map((s: any) => s.name)).toEqual(['demo'])
    expect(snapshot()).toEqual(before)
  })

  it('answers many requests pipelined on one stream, each by its id', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => i + 1)
    const answers = await exchange(client, registry, ids.map(id => request({ op: 'lookup', name: 'demo' }, id)))
    expect(answers.map(a => a.id).sort((a, b) => a - b)).toEqual(ids)
    expect(answers.every(a => a.ok === true && a.result.providers.length === 1)).toBe(true)
  })

  it('stops reading a stream after garbage, answering on id 0, and serves new streams', async () => {
    const answers = await exchange(client, registry, [request({ op: 'list' }, 1), lp.encode.single(new Uint8Array([0xff, 0x00])).subarray(), request({ op: 'list' }, 2)])
    expect(answers.find(a => a.id === 0)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    expect(answers.find(a => a.id === 1)).toMatchObject({ ok: true })
    expect(answers.find(a => a.id === 2)).toBeUndefined()
    expect((await rawRequest(client, registry, request({ op: 'list' }))).ok).toBe(true)
  })

  it('refuses to deregister a name the caller does not own', async () => {
    const before = snapshot()
    const answer = await rawRequest(client, registry, request({ op: 'deregister', names: ['demo'] }))
    expect(answer).toMatchObject({ ok: false, error: { code: 'NOT_REGISTERED' } })
    expect(snapshot()).toEqual(before)
  })

  it('refuses a registration whose addr is not a multiaddr, and applies none of it', async () => {
    const before = entries()
    const good = { name: 'alpha', addrs: ['/ip4/127.0.0.1/tcp/1'], incarnation: 1, seq: 0 }
    for (const addrs of [['/ip4/999.1.1.1/tcp/1'], ['/foo'], ['/ip4/1.2.3.4/tcp/99999']]) {
      const answer = await rawRequest(client, registry, request({ op: 'register', services: [good, { name: 'beta', addrs, incarnation: 1, seq: 0 }] }))
      expect(answer, addrs[0]).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', message: expect.stringMatching(/services\.1\.addrs\.0/) } })
    }
    expect(entries()).toEqual(before)
    expect((await rawRequest(client, registry, request({ op: 'list' }))).result.services.map((s: any) => s.name)).toEqual(['demo'])
  })

  it('refuses a registration with one stale name, and applies none of it', async () => {
    const ok = await rawRequest(client, registry, request({ op: 'register', services: [{ name: 'beta', addrs: [], incarnation: 5, seq: 0 }] }))
    expect(ok.ok).toBe(true)
    const before = entries()
    const answer = await rawRequest(client, registry, request({ op: 'register', services: [{ name: 'alpha', addrs: [], incarnation: 5, seq: 0 }, { name: 'beta', addrs: [], incarnation: 4, seq: 0 }] }))
    expect(answer).toMatchObject({ ok: false, error: { code: 'REGISTRATION_REJECTED', message: expect.stringMatching(/beta/) } })
    expect(entries()).toEqual(before)
    expect(registry.catalog.get('alpha', client.peerId.toString())).toBeUndefined()
  })

  it('takes the peer id from the connection, never from the message', async () => {
    const answer = await rawRequest(client, registry, request({ op: 'register', services: [{ name: 'demo', addrs: [], incarnation: 1, seq: 0 }] }))
    expect(answer.ok).toBe(true)
    const demos = registry.catalog.providersOf('demo')
    expect(demos.map(r => r.peerId).sort()).toEqual([client.peerId.toString(), demo.peerId].sort())
    // demo's own entry is untouched by someone else registering the same name.
    expect(registry.catalog.get('demo', demo.peerId)?.status).toBe('up')
  })

  it('ignores a patch stream from a peer that is not the registry', async () => {
    const stream = await client.dialProtocol(demo.p2p.getMultiaddrs()[0], NOTIFY_PROTOCOL)
    const forged = {
      type: 'patch',
      records: [{ name: 'log', peerId: client.peerId.toString(), addrs: [], requires: [], version: '1', meta: {}, incarnation: 9, seq: 9, status: 'up' }]
    }
    // demo resets the stream as soon as it sees who opened it; the send may already fail.
    try { stream.send(frame(forged)) } catch {}
    await eventually(() => { expect(stream.status).not.toBe('open') }, 5_000)
    expect(demo.catalog.providersOf('log')).toEqual([])
  })

  it('drops a heartbeat stream that sends garbage and keeps answering good ones', async () => {
    const bad = await client.dialProtocol(demo.p2p.getMultiaddrs()[0], HEARTBEAT_PROTOCOL)
    bad.send(frame({ type: 'probe', id: 'x' }))
    await eventually(() => { expect(bad.status).not.toBe('open') }, 5_000)
    const good = await client.dialProtocol(demo.p2p.getMultiaddrs()[0], HEARTBEAT_PROTOCOL)
    const reader = lpStream(good, { maxDataLength: 1024 })
    await reader.write(encodeFrame({ type: 'probe', id: 7 }))
    const ack = JSON.parse(dec.decode((await reader.read({ signal: AbortSignal.timeout(5_000) })).subarray()))
    expect(ack).toMatchObject({ type: 'ack', id: 7, health: 'degraded', load: 0 })
  })

  it('keeps serving after all of the above', async () => {
    // A frame cut short: the sender announces 5 bytes, sends 2 and closes.
    for (let i = 0; i < 3; i++) {
      expect(await rawRequest(client, registry, new Uint8Array([0x05, 1, 2]))).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } })
    }
    const answer = await rawRequest(client, registry, request({ op: 'list' }))
    expect(answer.ok).toBe(true)
    expect(answer.result.services.map((s: any) => s.name)).toEqual(['demo'])
  })
})
