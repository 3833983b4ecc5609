import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { validateCatalogMessage } from '../../src/node/gossip.js'
import { GrantVerifier, signGrant } from '../../src/node/grant.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'

const registryKey = await generateKeyPair('Ed25519')
const R = peerIdFromPrivateKey(registryKey).toString()
const A = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const B = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const rec = (peerId: string, status = 'up', name = 'log') => ({ name, peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 1, status })
const grantA = await signGrant(registryKey, { name: 'log', peerId: A, incarnation: 1, issuedAt: 1 })
const msg = (from: string, body: unknown, type: 'signed' | 'unsigned' = 'signed'): Message => ({
  type, topic: CATALOG_TOPIC, data: new TextEncoder().encode(JSON.stringify(body)),
  ...(type === 'signed' ? { from: peerIdFromString(from), sequenceNumber: 1n, signature: new Uint8Array(), key: peerIdFromString(from).publicKey! } : {})
}) as Message
// null: this node does not know its registry yet.
const verdict = async (m: Message, registry: string | null = R) => (await validateCatalogMessage(m, registry ?? undefined, new GrantVerifier())).verdict
const announce = (from: string, records: unknown[], grants: unknown[] = [grantA]) => msg(from, { kind: 'announce', records, grants })

describe('gossip validation (the rules of DESIGN.md §4 and §8)', () => {
  it('rejects unsigned messages', async () => {
    expect(await verdict(announce(A, [rec(A)]), R)).toBe(TopicValidatorResult.Accept)
    expect(await verdict(msg(A, { kind: 'announce', records: [rec(A)], grants: [grantA] }, 'unsigned'))).toBe(TopicValidatorResult.Reject)
  })
  it('accepts an owner announcing itself up with its grant, or leaving; nothing else from it', async () => {
    expect(await verdict(announce(A, [rec(A)]))).toBe(TopicValidatorResult.Accept)
    expect(await verdict(announce(A, [rec(A, 'leaving')]))).toBe(TopicValidatorResult.Accept)
    expect(await verdict(announce(A, [rec(A, 'down')]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(R)]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(msg(A, { kind: 'patch', records: [rec(R, 'down')] }))).toBe(TopicValidatorResult.Reject)
  })
  it('an `up` needs a grant for that very name, peer and incarnation from the known registry; a `leaving` needs none', async () => {
    expect(await verdict(announce(A, [rec(A)], []))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(msg(A, { kind: 'announce', records: [rec(A)] }))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(A, 'leaving')], []))).toBe(TopicValidatorResult.Accept)
    // A's grant for log, reused for another name, or by B.
    expect(await verdict(announce(A, [rec(A, 'up', 'grading')]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(A), rec(A, 'up', 'grading')]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(B, [rec(B)]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [{ ...rec(A), incarnation: 2 }]))).toBe(TopicValidatorResult.Reject)
    // Forged: B's grant claiming the registry's id, signed by B's own key.
    const selfSigned = await signGrant(await generateKeyPair('Ed25519'), { name: 'log', peerId: B, incarnation: 1, issuedAt: 1 })
    expect(await verdict(announce(B, [rec(B)], [{ ...selfSigned, registry: R }]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(A)], [{ ...grantA, issuedAt: 2 }]))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(A)], [grantA, grantA]))).toBe(TopicValidatorResult.Reject)
    // A bad grant on a leaving is still refused: a grant, when there is one, must be genuine.
    expect(await verdict(announce(A, [rec(A, 'leaving')], [{ ...grantA, issuedAt: 2 }]))).toBe(TopicValidatorResult.Reject)
  })
  it('a grant by a registry this node does not know is ignored (not judged, not punished), and so is an `up` while the registry is unknown', async () => {
    expect(await verdict(announce(A, [rec(A)]), B)).toBe(TopicValidatorResult.Ignore)
    expect(await verdict(announce(A, [rec(A)]), null)).toBe(TopicValidatorResult.Ignore)
    expect(await verdict(announce(A, [rec(A, 'leaving')], []), null)).toBe(TopicValidatorResult.Accept)
  })
  it('accepts patches only from the registry; ignores them while the registry is unknown', async () => {
    expect(await verdict(msg(R, { kind: 'patch', records: [rec(A, 'down')] }))).toBe(TopicValidatorResult.Accept)
    expect(await verdict(msg(R, { kind: 'patch', records: [rec(A, 'down')] }), null)).toBe(TopicValidatorResult.Ignore)
  })
  it('rejects malformed and oversized messages', async () => {
    expect(await verdict(msg(A, { kind: 'announce', records: [] }))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(msg(A, 'nonsense'))).toBe(TopicValidatorResult.Reject)
    expect(await verdict(announce(A, [rec(A)], Array(17).fill(grantA)))).toBe(TopicValidatorResult.Reject)
    const big = announce(A, [{ ...rec(A), meta: { x: 'y'.repeat(300_000) } }])
    expect(await verdict(big)).toBe(TopicValidatorResult.Reject)
  })
  it('fast-check: a mutated announcement never throws and is accepted only if its grant still vouches for it', async () => {
    const field = <T>(v: T, alt: fc.Arbitrary<unknown>) => fc.oneof(fc.constant(v), alt)
    const arb = fc.record({
      kind: field('announce', fc.string()),
      records: fc.array(fc.record({ ...Object.fromEntries(Object.entries(rec(A)).map(([k, v]) => [k, field(v, fc.anything())])) }), { maxLength: 3 }),
      grants: fc.array(fc.record(Object.fromEntries(Object.entries(grantA).map(([k, v]) => [k, field(v, fc.oneof(fc.string(), fc.integer()))]))), { maxLength: 2 })
    }, { requiredKeys: [] })
    await fc.assert(fc.asyncProperty(fc.oneof(arb, fc.anything()), fc.constantFrom(A, B), async (body, from) => {
      const v = await verdict(msg(from, body))
      if (v !== TopicValidatorResult.Accept) return
      const b = body as { records: Array<{ name: string, peerId: string, status: string, incarnation: number }>, grants?: unknown[] }
      for (const r of b.records) {
        expect(r.peerId).toBe(from)
        if (r.status === 'up') expect(r).toMatchObject({ name: grantA.name, peerId: A, incarnation: grantA.incarnation })
      }
    }), { numRuns: 300 })
  })
})

describe('gossip validation: suspicions (kind `suspect`)', () => {
  const members = new Set([A, B])
  const judge = async (m: Message) => (await validateCatalogMessage(m, R, new GrantVerifier(), p => members.has(p))).verdict
  const suspect = (from: string, about: string, over: Record<string, unknown> = {}) => msg(from, { kind: 'suspect', peerId: about, incarnation: 1, seq: 1, ...over })

  it('accepts a suspicion by a member of another peer', async () => {
    expect(await judge(suspect(A, B))).toBe(TopicValidatorResult.Accept)
  })
  it('rejects a self-accusation, a malformed or an oversized one; ignores one from a peer that is not a member', async () => {
    expect(await judge(suspect(A, A))).toBe(TopicValidatorResult.Reject)
    expect(await judge(suspect(A, B, { seq: -1 }))).toBe(TopicValidatorResult.Reject)
    expect(await judge(suspect(A, B, { extra: 1 }))).toBe(TopicValidatorResult.Reject)
    expect(await judge(suspect(A, 'not-a-peer-id'))).toBe(TopicValidatorResult.Reject)
    expect(await judge(msg(A, { kind: 'suspect', peerId: B }))).toBe(TopicValidatorResult.Reject)
    // Valid JSON padded past the suspicion's cap (whitespace, so it still parses).
    const padded = { ...suspect(A, B), data: new TextEncoder().encode(JSON.stringify({ kind: 'suspect', peerId: B, incarnation: 1, seq: 1 }) + ' '.repeat(1_000)) } as Message
    expect(await judge(padded)).toBe(TopicValidatorResult.Reject)
    expect(await judge(suspect(R, B))).toBe(TopicValidatorResult.Ignore)
    // Without a membership test (the default), no suspicion counts.
    expect(await verdict(suspect(A, B))).toBe(TopicValidatorResult.Ignore)
  })
})
