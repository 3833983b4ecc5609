import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import { peerIdFromString } from '@libp2p/peer-id'
import { createClientLibp2p, type ClientLibp2p } from '../../src/node/libp2p.js'
import { REGISTRY_PROTOCOL } from '../../src/node/protocols.js'
import { encodeFrame } from '../../src/node/framing.js'
import { verifyGrantSignature } from '../../src/node/grant.js'
import { grant } from '../../src/node/schemas.js'
import type { GdsNode } from '../../src/node/node.js'
import { TestCluster } from '../helpers/nodes.js'

const dec = new TextDecoder()

async function register (client: ClientLibp2p, registry: GdsNode, name: string): Promise<any> {
  const stream = await client.dialProtocol(peerIdFromString(registry.peerId), REGISTRY_PROTOCOL)
  stream.send(lp.encode.single(encodeFrame({ id: 1, req: { op: 'register', services: [{ name, addrs: [], incarnation: 1, seq: 0 }] } })).subarray())
  await stream.close()
  const answer = await lpStream(stream, { maxDataLength: 1 << 20 }).read({ signal: AbortSignal.timeout(5_000) })
  return JSON.parse(dec.decode(answer.subarray()))
}

describe('access policy (--acl): who may provide a name', () => {
  const cluster = new TestCluster()
  const clients: ClientLibp2p[] = []
  afterEach(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    clients.length = 0
    await cluster.stopAll()
  })

  async function client (registry: GdsNode): Promise<ClientLibp2p> {
    const c = await createClientLibp2p()
    clients.push(c)
    await c.dial(registry.p2p.getMultiaddrs()[0])
    return c
  }

  it('refuses a name the peer may not provide with NOT_ALLOWED, naming both, and changes nothing', async () => {
    const allowed = await createClientLibp2p()
    clients.push(allowed)
    const dir = await cluster.tempDir()
    const aclFile = join(dir, 'acl.json')
    await writeFile(aclFile, JSON.stringify({ grading: [allowed.peerId.toString()], log: ['*'] }))
    const registry = await cluster.registry({ aclFile })
    await allowed.dial(registry.p2p.getMultiaddrs()[0])
    const intruder = await client(registry)

    const before = JSON.stringify(registry.catalog.all())
    const refused = await register(intruder, registry, 'grading')
    expect(refused).toMatchObject({ ok: false, error: { code: 'NOT_ALLOWED', name: 'NotAllowedError' } })
    expect(refused.error.message).toContain('"grading"')
    expect(refused.error.message).toContain(intruder.peerId.toString())
    // A name that matches nothing is refused too.
    expect(await register(intruder, registry, 'webui')).toMatchObject({ ok: false, error: { code: 'NOT_ALLOWED' } })
    expect(JSON.stringify(registry.catalog.all())).toEqual(before)

    expect((await register(intruder, registry, 'log')).ok).toBe(true)
    const granted = await register(allowed, registry, 'grading')
    expect(granted.ok).toBe(true)
    // The answer carries the registry's grant: for the name, the peer of the connection, the
    // incarnation registered, signed by the registry's key.
    expect(granted.result.grants).toEqual([expect.objectContaining({ registry: registry.peerId, name: 'grading', peerId: allowed.peerId.toString(), incarnation: 1 })])
    expect(await verifyGrantSignature(grant.parse(granted.result.grants[0]))).toBe(true)
    expect(registry.catalog.all().map(r => `${r.name}:${r.peerId === allowed.peerId.toString() ? 'allowed' : 'intruder'}`).sort())
      .toEqual(['grading:allowed', 'log:intruder'])
  })

  it('a bad ACL file stops the registry at start with one line naming the file', async () => {
    const dir = await cluster.tempDir()
    const aclFile = join(dir, 'acl.json')
    await writeFile(aclFile, '{"grading": ["nope"]}')
    await expect(cluster.registry({ aclFile })).rejects.toThrow(/^ACL file .*acl\.json: the list of "grading" holds "nope", which is not a peer id$/)
    await expect(cluster.registry({ aclFile: join(dir, 'missing.json') })).rejects.toThrow(/missing\.json: cannot read it \(ENOENT\)/)
  })
})

describe('access policy: a refused service stops', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('a NotAllowedError on register is final: no retry, and the node fails with it', async () => {
    const dir = await cluster.tempDir()
    const aclFile = join(dir, 'acl.json')
    await writeFile(aclFile, JSON.stringify({ log: ['*'] }))
    const registry = await cluster.registry({ aclFile })
    const demo = await cluster.service(registry, 'demo')
    const refused = await cluster.waitFor(demo, e => e.event === 'registration-refused')
    expect((refused as any).error).toMatch(/may not provide "demo"/)
    await expect(demo.failed).rejects.toMatchObject({ name: 'NotAllowedError', code: 'NOT_ALLOWED' })
    await cluster.waitFor(demo, e => e.event === 'stopped', 5_000, 'stopped')
    expect(cluster.events.get(demo)!.some(e => e.event === 'registry-retry')).toBe(false)
    expect(registry.catalog.all()).toEqual([])
  })
})
