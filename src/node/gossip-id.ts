import { randomBytes } from 'node:crypto'
import type { Message } from '@libp2p/gossipsub'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { BATCH_ID_PATTERN } from './protocols.js'

/**
 * The ids gossipsub files catalogue messages under. A registry patch names its batch (a random
 * id the registry also sends each dependent with the same records over the hub, notifier.ts), and
 * is filed under its author and that batch: a dependent that got the records from the hub marks
 * the id seen, and gossipsub then drops the gossip copy before it decodes or verifies it. Every
 * other message is filed, as gossipsub's default does, under its author and seqno.
 */

/** Characters of a batch id (BATCH_ID_PATTERN). */
export const BATCH_ID_LENGTH = 16

export function newBatchId (): string {
  return randomBytes(12).toString('base64url')
}

/** How a registry patch naming its batch begins on the wire (gossip.ts publishes it in this key order). */
const PATCH_PREFIX = Buffer.from('{"kind":"patch","batch":"')
const QUOTE = 0x22

/** The batch a message's bytes name, read without decoding them; undefined for anything else. */
export function batchOf (data: Uint8Array | undefined): string | undefined {
  const end = PATCH_PREFIX.length + BATCH_ID_LENGTH
  if (data === undefined || data.byteLength <= end || data[end] !== QUOTE) return undefined
  for (let i = 0; i < PATCH_PREFIX.length; i++) if (data[i] !== PATCH_PREFIX[i]) return undefined
  const id = Buffer.from(data.buffer, data.byteOffset + PATCH_PREFIX.length, BATCH_ID_LENGTH).toString('latin1')
  return BATCH_ID_PATTERN.test(id) ? id : undefined
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/** `!` never occurs in base64: a batch id cannot collide with an author-and-seqno id. */
function batchKey (author: Uint8Array, batch: string): string {
  return `!${base64(author)}${batch}`
}

/**
 * gossipsub's fast id, read from the raw message before its signature is checked (gossipsub
 * checks StrictSign first, so without it every copy from every mesh peer cost an Ed25519 verify).
 * It holds the claimed author, and gossipsub caches it only once the first copy verified, so a
 * forged copy of a seen id is dropped, never delivered, and a forger cannot pre-empt the id of a
 * real message (its copy fails the check and is not cached).
 */
export function fastMessageId (msg: { from?: Uint8Array, seqno?: Uint8Array, data?: Uint8Array }): string {
  if (msg.from === undefined || msg.seqno === undefined) return ''
  const batch = batchOf(msg.data)
  return batch === undefined ? base64(msg.from) + base64(msg.seqno) : batchKey(msg.from, batch)
}

const encoder = new TextEncoder()

/**
 * gossipsub's message id (what IHAVE, IWANT and IDONTWANT carry): the fast id's bytes for a batch;
 * for anything else gossipsub's own (msgIdFnStrictSign: the author's key and the seqno), so nodes
 * of an older gds still agree on the id of every message but the batches they do not send.
 */
export function messageId (msg: Message): Uint8Array {
  if (msg.type !== 'signed') throw new Error('expected a signed message')
  const batch = batchOf(msg.data)
  if (batch !== undefined) return encoder.encode(batchKey(msg.from.toMultihash().bytes, batch))
  const seqno = Buffer.alloc(8)
  seqno.writeBigUInt64BE(BigInt.asUintN(64, msg.sequenceNumber))
  return Buffer.concat([publicKeyToProtobuf(msg.from.publicKey ?? msg.key), seqno])
}

/** A message id as gossipsub's caches key it. */
export function messageIdString (id: Uint8Array): string {
  return base64(id)
}

/** Both cache keys of the registry's patch `batch`: what marking it seen puts where. */
export function seenKeys (author: Uint8Array, batch: string): { fast: string, id: string } {
  const fast = batchKey(author, batch)
  return { fast, id: messageIdString(encoder.encode(fast)) }
}
