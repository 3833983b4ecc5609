import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { GRANT_TAG, GrantSigner, GrantVerifier, PublicKeys, grantBytes, grantMismatch, signGrant, verifyGrantSignature } from '../../src/node/grant.js'
import { grant as grantSchema, registerResult, type Grant } from '../../src/node/schemas.js'

const registryKey = await generateKeyPair('Ed25519')
const otherKey = await generateKeyPair('Ed25519')
const R = peerIdFromPrivateKey(registryKey).toString()
const A = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const B = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const record = (over: Partial<{ name: string, peerId: string, incarnation: number }> = {}) => ({ name: 'grading', peerId: A, incarnation: 7, ...over })

describe('grants: the registry\'s signed word that a peer may provide a name', () => {
  it('a signed grant verifies, fits its schema and vouches for exactly its name, peer and incarnation', async () => {
    const g = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1_000 })
    expect(grantSchema.parse(g)).toEqual(g)
    expect(g.registry).toBe(R)
    expect(await verifyGrantSignature(g)).toBe(true)
    expect(grantMismatch(g, record(), A)).toBeUndefined()
    // Reused for another name, by another peer (announcing itself or A), for another incarnation.
    expect(grantMismatch(g, record({ name: 'log' }), A)).toBe('grant for another name')
    expect(grantMismatch(g, record({ peerId: B }), B)).toBe('grant for another peer')
    expect(grantMismatch(g, record(), B)).toBe('grant for another peer')
    expect(grantMismatch(g, record({ incarnation: 8 }), A)).toBe('grant for another incarnation')
    expect(grantMismatch(g, record({ incarnation: 6 }), A)).toBe('grant for another incarnation')
  })

  it('a signer holding the imported key signs the very bytes libp2p signs with the key', async () => {
    const signer = new GrantSigner(registryKey)
    for (const fields of [{ name: 'grading', peerId: A, incarnation: 7, issuedAt: 1_000 }, { name: 'log', peerId: B, incarnation: 1, issuedAt: 2 }]) {
      const g = await signer.sign(fields)
      expect(g.registry).toBe(R)
      expect(Buffer.from(g.sig, 'base64')).toEqual(Buffer.from(await registryKey.sign(grantBytes(g))))
      expect(await verifyGrantSignature(g)).toBe(true)
    }
  })

  it('the signature covers every field and the domain tag', async () => {
    const g = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1_000 })
    for (const forged of [{ ...g, name: 'log' }, { ...g, peerId: B }, { ...g, incarnation: 8 }, { ...g, issuedAt: 2_000 }]) {
      expect(await verifyGrantSignature(forged)).toBe(false)
    }
    // Signed by another key but claiming the registry's id; and a signature over the bare fields (no tag).
    const byOther = await signGrant(otherKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1_000 })
    expect(await verifyGrantSignature({ ...byOther, registry: R })).toBe(false)
    const untagged = grantBytes(g).subarray(new TextEncoder().encode(GRANT_TAG).byteLength)
    const bare = Buffer.from(await registryKey.sign(untagged)).toString('base64')
    expect(await verifyGrantSignature({ ...g, sig: bare })).toBe(false)
    // Flipped signature bits.
    const sig = Buffer.from(g.sig, 'base64'); sig[5] ^= 1
    expect(await verifyGrantSignature({ ...g, sig: sig.toString('base64') })).toBe(false)
  })

  it('a registry restarted with the same key: its old grants still verify', async () => {
    const g = await signGrant(registryKey, { name: 'log', peerId: A, incarnation: 1, issuedAt: 5 })
    const { privateKeyFromProtobuf, privateKeyToProtobuf } = await import('@libp2p/crypto/keys')
    const reloaded = privateKeyFromProtobuf(privateKeyToProtobuf(registryKey))
    expect(await signGrant(reloaded, { name: 'log', peerId: A, incarnation: 1, issuedAt: 5 })).toEqual(g)
    expect(await verifyGrantSignature(g)).toBe(true)
  })

  it('the verifier remembers good signatures only, and never for other fields', async () => {
    const v = new GrantVerifier(2)
    const g = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1 })
    expect(await v.verify(g)).toBe(true)
    expect(await v.verify(g)).toBe(true)
    expect(await v.verify({ ...g, name: 'log' })).toBe(false)
    expect(await v.verify({ ...g, peerId: B })).toBe(false)
  })

  it('registry keys are imported once each, kept within their bound, and the kept key still refuses forgeries', async () => {
    const keys = new PublicKeys(2)
    const g = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1 })
    for (let i = 0; i < 3; i++) expect(await verifyGrantSignature(g, keys)).toBe(true)
    expect(keys.size).toBe(1)
    expect(await verifyGrantSignature({ ...g, name: 'log' }, keys)).toBe(false)
    const sig = Buffer.from(g.sig, 'base64'); sig[0] ^= 1
    expect(await verifyGrantSignature({ ...g, sig: sig.toString('base64') }, keys)).toBe(false)
    // Other registries push the oldest out; it is imported again when it comes back.
    for (const key of [otherKey, await generateKeyPair('Ed25519')]) {
      expect(await verifyGrantSignature(await signGrant(key, { name: 'log', peerId: B, incarnation: 1, issuedAt: 2 }), keys)).toBe(true)
    }
    expect(keys.size).toBe(2)
    expect(await verifyGrantSignature(g, keys)).toBe(true)
    expect(keys.size).toBe(2)
    // Ids without a key, or garbage, are not kept.
    expect(await verifyGrantSignature({ ...g, registry: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }, new PublicKeys())).toBe(false)
    const empty = new PublicKeys()
    expect(await verifyGrantSignature({ ...g, registry: '1'.repeat(52) }, empty)).toBe(false)
    expect(empty.size).toBe(0)
  })

  it('a registry id without an inline key, or garbage, verifies nothing', async () => {
    const g = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1 })
    // An RSA-style (Qm...) id carries no public key.
    expect(await verifyGrantSignature({ ...g, registry: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' })).toBe(false)
    expect(await verifyGrantSignature({ ...g, registry: '1'.repeat(52) })).toBe(false)
  })

  it('fast-check: random and mutated grants never throw, and only the genuine one verifies', async () => {
    const g: Grant = await signGrant(registryKey, { name: 'grading', peerId: A, incarnation: 7, issuedAt: 1_000 })
    const mutated = fc.record({
      registry: fc.oneof(fc.constant(g.registry), fc.constant(B), fc.string({ maxLength: 130 })),
      name: fc.oneof(fc.constant(g.name), fc.string({ maxLength: 70 })),
      peerId: fc.oneof(fc.constant(g.peerId), fc.constant(R), fc.string({ maxLength: 130 })),
      incarnation: fc.oneof(fc.constant(g.incarnation), fc.integer(), fc.double()),
      issuedAt: fc.oneof(fc.constant(g.issuedAt), fc.nat()),
      sig: fc.oneof(fc.constant(g.sig), fc.base64String({ minLength: 88, maxLength: 88 }), fc.string({ maxLength: 100 }))
    }, { requiredKeys: [] })
    await fc.assert(fc.asyncProperty(fc.oneof(mutated, fc.anything()), async raw => {
      const parsed = grantSchema.safeParse(raw)
      // The register answer's decoder takes it too, without throwing.
      registerResult.safeParse({ records: [], providers: [], grants: [raw] })
      if (!parsed.success) return
      const ok = await verifyGrantSignature(parsed.data)
      expect(ok).toBe(JSON.stringify(parsed.data) === JSON.stringify(g))
    }), { numRuns: 300 })
  })
})
