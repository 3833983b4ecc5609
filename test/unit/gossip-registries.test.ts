import { describe, expect, it } from 'vitest'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { validateCatalogMessage } from '../../src/node/gossip.js'
import { GrantVerifier, signGrant } from '../../src/node/grant.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import { homeIndex, registryOrder } from '../../src/node/registry-session.js'
import { parseRegistryList } from '../../src/node/registry-pin.js'
import { multiaddr } from '@multiformats/multiaddr'

const keys = await Promise.all([0, 1, 2].map(async () => generateKeyPair('Ed25519')))
const [R1, R2, X] = keys.map(k => peerIdFromPrivateKey(k).toString())
const A = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const rec = (peerId: string, status = 'up') => ({ name: 'log', peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 1, status })
const msg = (from: string, body: unknown): Message => ({
  type: 'signed', topic: CATALOG_TOPIC, data: new TextEncoder().encode(JSON.stringify(body)),
  from: peerIdFromString(from), sequenceNumber: 1n, signature: new Uint8Array(), key: peerIdFromString(from).publicKey!
}) as Message
const both = new Set([R1, R2])
const verdict = async (m: Message, registries: ReadonlySet<string>) => (await validateCatalogMessage(m, registries, new GrantVerifier())).verdict

describe('several registries sharing a catalogue', () => {
  it('patches and grants count from any pinned registry, from no one else', async () => {
    const grantBy = async (i: number) => signGrant(keys[i], { name: 'log', peerId: A, incarnation: 1, issuedAt: 1 })
    expect(await verdict(msg(R2, { kind: 'patch', records: [rec(A, 'down')] }), both)).toBe(TopicValidatorResult.Accept)
    expect(await verdict(msg(R1, { kind: 'patch', records: [rec(A, 'down')] }), both)).toBe(TopicValidatorResult.Accept)
    expect(await verdict(msg(X, { kind: 'patch', records: [rec(A, 'down')] }), both)).toBe(TopicValidatorResult.Reject)
    expect(await verdict(msg(A, { kind: 'announce', records: [rec(A)], grants: [await grantBy(1)] }), both)).toBe(TopicValidatorResult.Accept)
    expect(await verdict(msg(A, { kind: 'announce', records: [rec(A)], grants: [await grantBy(2)] }), both)).toBe(TopicValidatorResult.Ignore)
    // An empty set is "no registry known yet": nothing is judged.
    expect(await verdict(msg(R1, { kind: 'patch', records: [rec(A, 'down')] }), new Set())).toBe(TopicValidatorResult.Ignore)
  })

  it('a list of registries must pin each; at most 16', () => {
    const a = `/ip4/127.0.0.1/tcp/4001/p2p/${R1}`
    const b = `/ip4/127.0.0.1/tcp/4002/p2p/${R2}`
    expect(parseRegistryList(`${a}, ${b}`).map(String)).toEqual([a, b])
    expect(parseRegistryList('/ip4/127.0.0.1/tcp/4001').map(String)).toEqual(['/ip4/127.0.0.1/tcp/4001'])
    expect(() => parseRegistryList(`${a},/ip4/127.0.0.1/tcp/4002`)).toThrow(/each must be pinned/)
    expect(() => parseRegistryList(' , ')).toThrow(/is empty/)
    expect(() => parseRegistryList(Array(17).fill(a).join(','))).toThrow(/at most 16/)
    expect(() => parseRegistryList(`${a},/ip4/nope`)).toThrow(/not a multiaddr/)
  })

  it('services spread over the registries by peer id', async () => {
    const counts = [0, 0, 0]
    for (let i = 0; i < 300; i++) counts[homeIndex(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), 3)]++
    for (const c of counts) expect(c).toBeGreaterThan(60)
  })

  it('a dead registry\'s services spread over the survivors: each tries its home first, then an order of its own', async () => {
    const addrs = [R1, R2, X].map((id, i) => multiaddr(`/ip4/127.0.0.1/tcp/${4001 + i}/p2p/${id}`))
    const next = [0, 0, 0]
    for (let i = 0; i < 300; i++) {
      const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const order = registryOrder(peer, addrs)
      expect(order[0]).toBe(homeIndex(peer, 3))
      expect([...order].sort()).toEqual([0, 1, 2])
      expect(registryOrder(peer, addrs)).toEqual(order)
      if (order[0] === 0) next[order[1]]++
    }
    // Homed on registry 0 (about 100): when it dies, about half go to each survivor, none to it.
    expect(next[0]).toBe(0)
    expect(next[1]).toBeGreaterThan(25)
    expect(next[2]).toBeGreaterThan(25)
  })
})
