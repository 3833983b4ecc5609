import { describe, expect, it } from 'vitest'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { validateCatalogMessage } from '../../src/node/gossip.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import { fastMessageId } from '../../src/node/libp2p.js'

const A = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const R = '12D3KooWS1ChmmoudCK7GeiajzvdaE1MuuM7CVugRTJHvSDuZKqr'
const rec = (peerId: string, status = 'up') => ({ name: 'log', peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 1, status })
const msg = (from: string, body: unknown, type: 'signed' | 'unsigned' = 'signed'): Message => ({
  type, topic: CATALOG_TOPIC, data: new TextEncoder().encode(JSON.stringify(body)),
  ...(type === 'signed' ? { from: peerIdFromString(from), sequenceNumber: 1n, signature: new Uint8Array(), key: peerIdFromString(from).publicKey! } : {})
}) as Message

describe('gossip validation (the rules of DESIGN.md §4)', () => {
  it('rejects unsigned messages', () => {
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [rec(A)] }, 'unsigned'), R).verdict).toBe(TopicValidatorResult.Reject)
  })
  it('accepts an owner announcing itself up or leaving, and nothing else from it', () => {
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [rec(A)] }), R).verdict).toBe(TopicValidatorResult.Accept)
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [rec(A, 'leaving')] }), R).verdict).toBe(TopicValidatorResult.Accept)
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [rec(A, 'down')] }), R).verdict).toBe(TopicValidatorResult.Reject)
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [rec(R)] }), R).verdict).toBe(TopicValidatorResult.Reject)
    expect(validateCatalogMessage(msg(A, { kind: 'patch', records: [rec(R, 'down')] }), R).verdict).toBe(TopicValidatorResult.Reject)
  })
  it('accepts patches only from the registry; ignores them while the registry is unknown', () => {
    expect(validateCatalogMessage(msg(R, { kind: 'patch', records: [rec(A, 'down')] }), R).verdict).toBe(TopicValidatorResult.Accept)
    expect(validateCatalogMessage(msg(R, { kind: 'patch', records: [rec(A, 'down')] }), undefined).verdict).toBe(TopicValidatorResult.Ignore)
  })
  it('rejects malformed and oversized messages', () => {
    expect(validateCatalogMessage(msg(A, { kind: 'announce', records: [] }), R).verdict).toBe(TopicValidatorResult.Reject)
    expect(validateCatalogMessage(msg(A, 'nonsense'), R).verdict).toBe(TopicValidatorResult.Reject)
    const big = msg(A, { kind: 'announce', records: [{ ...rec(A), meta: { x: 'y'.repeat(300_000) } }] })
    expect(validateCatalogMessage(big, R).verdict).toBe(TopicValidatorResult.Reject)
  })
})

describe('the fast message id (dedupe before the signature check)', () => {
  const from = peerIdFromString(A).toMultihash().bytes
  it('is the same for copies of one message and differs by author or seqno', () => {
    const id = fastMessageId({ from, seqno: new Uint8Array([0, 1]) })
    expect(fastMessageId({ from: from.slice(), seqno: new Uint8Array([0, 1]) })).toBe(id)
    expect(fastMessageId({ from, seqno: new Uint8Array([0, 2]) })).not.toBe(id)
    expect(fastMessageId({ from: peerIdFromString(R).toMultihash().bytes, seqno: new Uint8Array([0, 1]) })).not.toBe(id)
  })
})
