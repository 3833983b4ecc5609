import fc from 'fast-check'
import { peerIdFromString } from '@libp2p/peer-id'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { InvalidMessageError } from '../../src/node/errors.js'
import { decodeFrame, encodeFrame, validate } from '../../src/node/framing.js'
import { GrantVerifier } from '../../src/node/grant.js'
import { MAX_SUSPICION_BYTES, catalogMessage, validateCatalogMessage } from '../../src/node/gossip.js'
import { CATALOG_TOPIC } from '../../src/node/protocols.js'
import {
  heartbeatAck, heartbeatProbe, listResult, lookupResult, muxAnswer, muxRequest, notifyPatch, registerResult,
  registryRequest, rpcRequest, rpcResponse, watchMessage, watchRequest
} from '../../src/node/schemas.js'
import * as arb from './arbitraries.js'

/**
 * Every decoder, fed random and mutated input: it returns a value its schema accepts, or throws
 * InvalidMessageError, nothing else, and that error fits the wire error a peer is sent (a
 * message the other side could not even decode would break its stream).
 */

const RUNS = 200

function outcome<S extends z.ZodType> (schema: S, decode: () => unknown): 'ok' | 'refused' {
  let value: unknown
  try {
    value = decode()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError)
    const answer = muxAnswer.safeParse({ id: 0, ok: false, error: (err as InvalidMessageError).toWire() })
    expect(answer.success, `the refusal does not fit a wire error: ${String((err as Error).message).slice(0, 200)}`).toBe(true)
    return 'refused'
  }
  expect(schema.safeParse(value).success).toBe(true)
  return 'ok'
}

const ts = fc.nat({ max: 2 ** 45 })
const listAnswer = fc.record({
  registry: fc.record({ peerId: arb.peerId, addrs: fc.array(arb.addr, { maxLength: 2 }) }),
  services: fc.array(arb.providerRecord, { maxLength: 3 })
})

const decoders: Array<{ name: string, schema: z.ZodType, valid: fc.Arbitrary<unknown> }> = [
  { name: 'registry request frame', schema: muxRequest(registryRequest), valid: fc.record({ id: fc.integer({ min: 1, max: 1e6 }), req: arb.registryRequest }) },
  { name: 'registry answer frame', schema: muxAnswer, valid: fc.record({ id: fc.nat(), ok: fc.constant(true), result: listAnswer }) },
  {
    name: 'register answer',
    schema: registerResult,
    valid: fc.record({ records: fc.array(arb.providerRecord, { maxLength: 2 }), providers: fc.array(arb.providerRecord, { maxLength: 2 }), peers: fc.array(fc.record({ peerId: arb.peerId, addrs: fc.array(arb.addr, { maxLength: 2 }) }), { maxLength: 2 }) })
  },
  { name: 'list answer', schema: listResult, valid: listAnswer },
  { name: 'lookup answer', schema: lookupResult, valid: fc.record({ providers: fc.array(arb.providerRecord, { maxLength: 3 }) }) },
  { name: 'heartbeat probe', schema: heartbeatProbe, valid: fc.record({ type: fc.constant('probe'), id: fc.nat() }) },
  { name: 'heartbeat ack', schema: heartbeatAck, valid: fc.record({ type: fc.constant('ack'), id: fc.nat(), health: fc.constantFrom('ok', 'degraded'), load: fc.nat() }) },
  {
    name: 'notify patch',
    schema: notifyPatch,
    valid: fc.record({ type: fc.constant('patch'), records: fc.array(arb.providerRecord, { maxLength: 4 }), delivered: fc.array(fc.uint8Array({ minLength: 12, maxLength: 12 }).map(b => Buffer.from(b).toString('base64url')), { maxLength: 3 }) }, { requiredKeys: ['type', 'records'] })
  },
  {
    name: 'rpc request',
    schema: rpcRequest,
    valid: fc.oneof(
      fc.record({ id: fc.nat(), service: arb.serviceName, method: fc.constantFrom('listStudents', 'getStudent', 'append'), params: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ id: fc.nat(), cancel: fc.constant(true) })
    )
  },
  {
    name: 'rpc response',
    schema: rpcResponse,
    valid: fc.oneof(
      fc.record({ id: fc.nat(), ok: fc.constant(true), result: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ id: fc.nat(), ok: fc.constant(false), error: fc.record({ name: fc.constant('InvalidParamsError'), code: fc.constant('INVALID_PARAMS'), message: fc.string({ maxLength: 40 }) }) }),
      fc.record({ id: fc.nat(), item: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ id: fc.nat(), end: fc.constant(true) })
    )
  },
  { name: 'watch request', schema: watchRequest, valid: fc.constant({ type: 'watch' }) },
  {
    name: 'watch message',
    schema: watchMessage,
    valid: fc.oneof(
      listAnswer.chain(l => ts.map(t => ({ type: 'snapshot', ts: t, ...l }))),
      fc.record({ type: fc.constant('change'), ts, record: arb.providerRecord, previous: fc.constantFrom('up', 'down') }),
      fc.record({ type: fc.constant('figures'), ts, peers: fc.array(fc.record({ peerId: arb.peerId, rttMs: fc.nat({ max: 1000 }), load: fc.nat() }), { maxLength: 3 }) })
    )
  }
]

describe('every decoder: random and mutated input is a value of its schema or an InvalidMessageError that fits the wire', () => {
  for (const { name, schema, valid } of decoders) {
    it(name, () => {
      // The starting points are valid: a property over only refusals could not fail.
      fc.assert(fc.property(valid, v => { expect(outcome(schema, () => decodeFrame(encodeFrame(v), schema))).toBe('ok') }), { numRuns: 30 })
      fc.assert(fc.property(arb.hostile(valid), json => { outcome(schema, () => validate(json, schema)) }), { numRuns: RUNS })
      fc.assert(fc.property(arb.mutatedBytes(valid), bytes => { outcome(schema, () => decodeFrame(bytes, schema)) }), { numRuns: RUNS })
    })
  }
})

describe('the gossip validator: any message gets a verdict, never a throw, and accepts only what the rules allow', () => {
  const registryId = 0
  const ids = ['12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', '12D3KooWMzYcWErpWEJUif4YGJ84TJaeybXkMmLQdKcfh7owEnMr', '12D3KooWS7Giwm88DBH8Q5diSrWX3s9SLepeTghG9dYBkAdMwTL6'].map(s => peerIdFromString(s))
  const validMessage = fc.oneof(
    fc.record({ kind: fc.constant('announce'), records: fc.array(arb.providerRecord, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('patch'), records: fc.array(arb.providerRecord, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('suspect'), peerId: fc.constantFrom(...ids.map(String)), incarnation: fc.nat(), seq: fc.nat() })
  )
  const data = fc.oneof(
    fc.oneof(validMessage, arb.hostile(validMessage)).map(v => new TextEncoder().encode(JSON.stringify(v))),
    arb.mutatedBytes(validMessage)
  )

  const grants = new GrantVerifier()

  it('signed or not, from the registry or not, known registry or not', async () => {
    await fc.assert(fc.asyncProperty(data, fc.nat({ max: 2 }), fc.boolean(), fc.boolean(), async (bytes, from, signed, known) => {
      const msg = (signed
        ? { type: 'signed', from: ids[from], data: bytes, topic: CATALOG_TOPIC, sequenceNumber: 1n, signature: new Uint8Array(), key: undefined }
        : { type: 'unsigned', data: bytes, topic: CATALOG_TOPIC }) as unknown as Message
      // Every peer but the registry is a member: suspicions from them may pass, none other.
      const { verdict, parsed } = await validateCatalogMessage(msg, known ? ids[registryId].toString() : undefined, grants, p => p !== ids[registryId].toString())
      expect([TopicValidatorResult.Accept, TopicValidatorResult.Reject, TopicValidatorResult.Ignore]).toContain(verdict)
      if (verdict !== TopicValidatorResult.Accept) return
      expect(signed).toBe(true)
      expect(catalogMessage.safeParse(parsed).success).toBe(true)
      if (parsed!.kind === 'patch') expect(known && from === registryId).toBe(true)
      else if (parsed!.kind === 'suspect') expect(from !== registryId && parsed!.peerId !== ids[from].toString() && bytes.byteLength <= MAX_SUSPICION_BYTES).toBe(true)
      else expect(parsed!.records.every(r => r.peerId === ids[from].toString() && (r.status === 'up' || r.status === 'leaving'))).toBe(true)
    }), { numRuns: 400 })
  })
})
