import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Message } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { InvalidMessageError } from '../../src/node/errors.js'
import { decodeFrame, encodeFrame } from '../../src/node/framing.js'
// gossipsub's default id, which its package does not export: untagged messages must keep it.
import { msgIdFnStrictSign } from '../../node_modules/@libp2p/gossipsub/dist/src/utils/msgIdFn.js'
import { batchOf, fastMessageId, messageId, messageIdString, newBatchId, seenKeys } from '../../src/node/gossip-id.js'
import { catalogMessage } from '../../src/node/gossip.js'
import { BATCH_ID_PATTERN, CATALOG_TOPIC } from '../../src/node/protocols.js'
import { MAX_NOTIFY_BATCHES, notifyPatch } from '../../src/node/schemas.js'

const registry = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const R = registry.toMultihash().bytes
const O = other.toMultihash().bytes
const record = { name: 'log', peerId: other.toString(), addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 1, status: 'up' as const }
const seqno = (n: number): Uint8Array => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b }
const signed = (from: typeof registry, n: number, data: Uint8Array): Message =>
  ({ type: 'signed', from, sequenceNumber: BigInt(n), data, topic: CATALOG_TOPIC, signature: new Uint8Array(), key: from.publicKey! }) as Message

describe('the fast message id (dedupe before the signature check)', () => {
  it('is the same for copies of one message and differs by author or seqno', () => {
    const id = fastMessageId({ from: R, seqno: new Uint8Array([0, 1]) })
    expect(fastMessageId({ from: R.slice(), seqno: new Uint8Array([0, 1]) })).toBe(id)
    expect(fastMessageId({ from: R, seqno: new Uint8Array([0, 2]) })).not.toBe(id)
    expect(fastMessageId({ from: O, seqno: new Uint8Array([0, 1]) })).not.toBe(id)
  })

  it('files a registry patch under its author and batch, whatever its seqno, and nobody else\'s under the same', () => {
    const batch = newBatchId()
    const data = encodeFrame({ kind: 'patch', batch, records: [record] })
    expect(fastMessageId({ from: R, seqno: seqno(1), data })).toBe(fastMessageId({ from: R, seqno: seqno(2), data }))
    expect(fastMessageId({ from: R, seqno: seqno(1), data })).toBe(seenKeys(R, batch).fast)
    // A message claiming another author (or a forger's own) cannot take the registry's id.
    expect(fastMessageId({ from: O, seqno: seqno(1), data })).not.toBe(seenKeys(R, batch).fast)
    expect(fastMessageId({ from: R, seqno: seqno(1), data: encodeFrame({ kind: 'patch', records: [record] }) })).not.toBe(seenKeys(R, batch).fast)
  })

  it('gossipsub\'s message id of a batch is the fast id\'s bytes, so marking it seen covers both caches; of anything else, gossipsub\'s own', () => {
    const batch = newBatchId()
    const data = encodeFrame({ kind: 'patch', batch, records: [record] })
    expect(messageIdString(messageId(signed(registry, 7, data)))).toBe(seenKeys(R, batch).id)
    const plain = signed(other, 7, encodeFrame({ kind: 'announce', records: [record], grants: [] }))
    expect([...messageId(plain)]).toEqual([...msgIdFnStrictSign(plain)])
  })
})

describe('batchOf (read before any decoding)', () => {
  it('reads the batch of a patch as gossip.ts encodes it, and only that', () => {
    const batch = newBatchId()
    expect(batch).toMatch(BATCH_ID_PATTERN)
    const patch = { kind: 'patch', batch, records: [record] }
    expect(catalogMessage.parse(patch)).toEqual(patch)
    expect(batchOf(encodeFrame(patch))).toBe(batch)
    expect(batchOf(encodeFrame({ kind: 'patch', records: [record] }))).toBeUndefined()
    expect(batchOf(encodeFrame({ records: [record], kind: 'patch', batch }))).toBeUndefined()
    expect(batchOf(encodeFrame({ kind: 'patch', batch: `${batch}x`, records: [record] }))).toBeUndefined()
    expect(batchOf(encodeFrame({ kind: 'patch', batch: 'a"b' + batch.slice(3), records: [record] }))).toBeUndefined()
    expect(batchOf(encodeFrame(patch).subarray(0, 40))).toBeUndefined()
    expect(batchOf(undefined)).toBeUndefined()
  })

  it('never throws, and names only well-formed batches, for any bytes', () => {
    const prefix = Buffer.from('{"kind":"patch","batch":"')
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }).map(b => new Uint8Array([...prefix, ...b])))
    fc.assert(fc.property(bytes, data => {
      const batch = batchOf(data)
      if (batch !== undefined) expect(batch).toMatch(BATCH_ID_PATTERN)
      expect(typeof fastMessageId({ from: R, seqno: seqno(1), data })).toBe('string')
    }), { numRuns: 500 })
  })
})

describe('the batches a notify frame names', () => {
  it('are at most MAX_NOTIFY_BATCHES well-formed ids, or the frame is refused', () => {
    const ids = Array.from({ length: MAX_NOTIFY_BATCHES + 1 }, () => newBatchId())
    expect(() => decodeFrame(encodeFrame({ type: 'patch', records: [], delivered: ids.slice(1) }), notifyPatch)).not.toThrow()
    expect(() => decodeFrame(encodeFrame({ type: 'patch', records: [], delivered: ids }), notifyPatch)).toThrow(InvalidMessageError)
    expect(() => decodeFrame(encodeFrame({ type: 'patch', records: [], delivered: ['not-a-batch'] }), notifyPatch)).toThrow(InvalidMessageError)
    expect(() => decodeFrame(encodeFrame({ type: 'patch', records: [], delivered: [`${ids[0]}"`] }), notifyPatch)).toThrow(InvalidMessageError)
  })
})
