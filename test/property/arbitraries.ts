import fc from 'fast-check'
import { MAX_VERSION, STATUSES } from '../../src/node/schemas.js'

/**
 * Valid gds messages, and ways to break them: the starting points of the property tests
 * (random input mostly fails at the first field; a mutated valid message reaches the deep
 * checks).
 */

const PEER_IDS = [
  '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK',
  '12D3KooWMzYcWErpWEJUif4YGJ84TJaeybXkMmLQdKcfh7owEnMr',
  '12D3KooWS7Giwm88DBH8Q5diSrWX3s9SLepeTghG9dYBkAdMwTL6'
]

export const peerId = fc.constantFrom(...PEER_IDS)
export const serviceName = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/)
export const counter = fc.nat({ max: MAX_VERSION })
export const addr = fc.tuple(fc.constantFrom('127.0.0.1', '10.77.0.3'), fc.integer({ min: 1, max: 65_535 })).map(([ip, port]) => `/ip4/${ip}/tcp/${port}`)

export const registration = fc.record({
  name: serviceName,
  addrs: fc.array(addr, { maxLength: 3 }),
  requires: fc.uniqueArray(serviceName, { maxLength: 3 }),
  version: fc.constantFrom('0.0.0', '1.2.3'),
  meta: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  incarnation: counter,
  seq: counter
})

export const providerRecord = fc.record({
  name: serviceName,
  peerId,
  addrs: fc.array(addr, { maxLength: 3 }),
  requires: fc.array(serviceName, { maxLength: 3 }),
  version: fc.constantFrom('0.0.0', '1.2.3'),
  meta: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  incarnation: counter,
  seq: counter,
  status: fc.constantFrom(...STATUSES)
})

export const registryRequest = fc.oneof(
  fc.uniqueArray(registration, { minLength: 1, maxLength: 3, selector: r => r.name }).map(services => ({ op: 'register', services })),
  fc.array(serviceName, { minLength: 1, maxLength: 3 }).map(names => ({ op: 'deregister', names })),
  serviceName.map(name => ({ op: 'lookup', name })),
  fc.constant({ op: 'list' }),
  peerId.map(p => ({ op: 'suspect', peerId: p }))
)

/** Values a field could be given instead of the right one (strings double as added keys: long ones too). */
const wrong = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 2 },
  { arbitrary: fc.constantFrom(-1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e308, '', '__proto__', null, true, [], {}), weight: 2 },
  { arbitrary: fc.constantFrom('x'.repeat(5_000), '\u001b]0;owned\u0007'.repeat(400)), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 }
)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Replaces, removes or adds one field somewhere in a JSON value (path chosen by `pick`). */
function mutateOnce (value: Json, pick: number[], replacement: Json, op: number): Json {
  if (Array.isArray(value)) {
    if (value.length === 0 || pick.length === 0) return op % 3 === 0 ? [...value, replacement] : replacement
    const i = pick[0] % value.length
    const out = [...value]
    if (pick.length === 1 && op % 3 === 1) out.splice(i, 1)
    else out[i] = mutateOnce(value[i], pick.slice(1), replacement, op)
    return out
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
    // A key of the peer's choosing: the replacement itself when it is a string (long, odd, __proto__).
    const added = typeof replacement === 'string' ? replacement : `k${op}`
    if (keys.length === 0 || pick.length === 0) return op % 3 === 0 ? { ...value, [added]: replacement } : replacement
    const k = keys[pick[0] % keys.length]
    const out: { [k: string]: Json } = { ...value }
    if (pick.length === 1 && op % 3 === 1) delete out[k]
    else if (pick.length === 1 && op % 3 === 2) out[added === k ? `${k}_` : added] = replacement
    else out[k] = mutateOnce(value[k], pick.slice(1), replacement, op)
    return out
  }
  return replacement
}

/** A valid value with one to three fields changed, removed or added. */
export function mutated<T> (valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), wrong, fc.nat()), { minLength: 1, maxLength: 3 }))
    .map(([v, edits]) => edits.reduce<Json>((acc, [pick, repl, op]) => mutateOnce(acc, pick, repl as Json, op), v as Json))
}

const encoder = new TextEncoder()

/** The bytes of a valid message with bytes flipped, cut or inserted; or random bytes. */
export function mutatedBytes<T> (valid: fc.Arbitrary<T>): fc.Arbitrary<Uint8Array> {
  const edited = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 2 })), { minLength: 1, maxLength: 4 }))
    .map(([v, edits]) => {
      const bytes = [...encoder.encode(JSON.stringify(v))]
      for (const [at, byte, op] of edits) {
        const i = at % (bytes.length + 1)
        if (op === 0) bytes[Math.min(i, bytes.length - 1)] = byte
        else if (op === 1) bytes.splice(i, 1)
        else bytes.splice(i, 0, byte)
      }
      return Uint8Array.from(bytes)
    })
  return fc.oneof(edited, fc.uint8Array({ maxLength: 64 }))
}

/** Anything a peer could send as one JSON frame: random, or a valid message mutated. */
export function hostile<T> (valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: mutated(valid), weight: 3 }, { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 })
}
