import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Grant } from './schemas.js'
import { RecentMap } from './recent-map.js'

/**
 * Grants: the registry's signed word that a peer may provide a name (DESIGN.md §8). The
 * registry signs one per name at each registration, after its access policy (--acl) said yes;
 * the owner attaches it to its announcements, and every peer checks it against the registry it
 * knows (pinned by --registry /p2p/<id>, or learnt from the connection it dialled), so an
 * announcement is judged on the spot, without asking anyone. Pure apart from the signature.
 *
 * Why a grant has no expiry: it names the incarnation it was issued to, and an announcement is
 * honoured only for that very incarnation, so it lives exactly as long as the process that
 * registered (a restart bumps the incarnation and needs a new registration, which the registry
 * judges against its policy of the day). It is bound to the peer too: gossip is signed by its
 * author and the author must be the grant's peer, so a grant read off gossip is worthless to
 * anyone else. A registry restarted with the same key keeps every grant it gave valid.
 */

/** Domain separation: these bytes can never be mistaken for anything else the key signs. */
export const GRANT_TAG = 'gds/grant/1\n'

export type GrantFields = Omit<Grant, 'sig'>

const encoder = new TextEncoder()

/** The signed bytes: the tag, then the fields as a JSON array in a fixed order. */
export function grantBytes (g: GrantFields): Uint8Array {
  return encoder.encode(GRANT_TAG + JSON.stringify([g.registry, g.name, g.peerId, g.incarnation, g.issuedAt]))
}

/**
 * The registry's side: signs grants with its key, imported once. libp2p's Ed25519 `sign` imports
 * the key from JWK at every call (and derives the peer id string each time here), which was two
 * thirds of a grant's cost and an eighth of the registry's CPU during a burst of registrations.
 * Ed25519 is deterministic: the signature is the same bytes either way.
 */
export class GrantSigner {
  private readonly registry: string
  /** Node's handle on an Ed25519 key; other key types sign through libp2p. */
  private readonly ed25519?: KeyObject

  constructor (private readonly key: PrivateKey) {
    this.registry = peerIdFromPrivateKey(key).toString()
    if (key.type === 'Ed25519') {
      this.ed25519 = createPrivateKey({
        format: 'jwk',
        key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(key.publicKey.raw).toString('base64url') }
      })
    }
  }

  /** A grant for `name` to `peerId`'s process `incarnation`. */
  async sign (g: Omit<GrantFields, 'registry'>): Promise<Grant> {
    const fields: GrantFields = { registry: this.registry, name: g.name, peerId: g.peerId, incarnation: g.incarnation, issuedAt: g.issuedAt }
    const bytes = grantBytes(fields)
    const sig = this.ed25519 !== undefined ? sign(null, bytes, this.ed25519) : await this.key.sign(bytes)
    return { ...fields, sig: Buffer.from(sig).toString('base64') }
  }
}

/** One grant signed with `key` (the registry keeps a GrantSigner instead). */
export async function signGrant (key: PrivateKey, g: Omit<GrantFields, 'registry'>): Promise<Grant> {
  return new GrantSigner(key).sign(g)
}

/**
 * Why `grant` does not vouch for `record` announced by `from`, or undefined if its fields do:
 * for this name, to the announcing peer, for the announced incarnation. Whether its registry
 * is the one this node knows, and its signature (GrantVerifier), are checked apart.
 */
export function grantMismatch (grant: Grant, record: { name: string, peerId: string, incarnation: number }, from: string): string | undefined {
  if (grant.name !== record.name) return 'grant for another name'
  if (grant.peerId !== from || record.peerId !== from) return 'grant for another peer'
  if (grant.incarnation !== record.incarnation) return 'grant for another incarnation'
  return undefined
}

/** Registries' keys kept imported: a node knows one registry, or a handful over its life. */
const REGISTRY_KEYS = 16

/**
 * Public keys by peer id, each imported once: libp2p's Ed25519 `verify` imports the key from JWK
 * at every call, and a grant check did that each time. Bounded, the oldest dropped first; only
 * ids that carry a key are kept.
 */
export class PublicKeys {
  private readonly keys: RecentMap<string, Check>

  constructor (max = REGISTRY_KEYS) { this.keys = new RecentMap(max) }

  get size (): number { return this.keys.size }

  /** `data` signed by `peerId`'s key? False for an id without an inline key; throws on a malformed id. */
  async verify (peerId: string, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
    const check = this.keys.get(peerId) ?? this.import(peerId)
    return check === undefined ? false : await check(data, sig)
  }

  private import (peerId: string): Check | undefined {
    const key = peerIdFromString(peerId).publicKey
    if (key === undefined) return undefined
    const check = checkWith(key)
    this.keys.set(peerId, check)
    return check
  }
}

type Check = (data: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean>

/** Node's handle on an Ed25519 key, imported here once; other key types verify through libp2p. */
function checkWith (key: PublicKey): Check {
  if (key.type !== 'Ed25519') return async (data, sig) => await key.verify(data, sig)
  const imported = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.raw).toString('base64url') } })
  return (data, sig) => verify(null, data, imported, sig)
}

const registryKeys = new PublicKeys()

/** Checks a grant's signature against its registry's public key (in the registry's peer id). */
export async function verifyGrantSignature (grant: Grant, keys: PublicKeys = registryKeys): Promise<boolean> {
  try {
    const sig = Buffer.from(grant.sig, 'base64')
    if (sig.byteLength !== 64) return false
    return await keys.verify(grant.registry, grantBytes(grant), sig)
  } catch {
    return false
  }
}

/** Verified grants remembered; a node re-announces every 30 s, so each is seen many times. */
const VERIFIED_CACHE = 1_024

/**
 * Signature checks with a memory of the good ones (an Ed25519 verify per announcement is the
 * validator's dearest step). Only successes are kept, keyed by every signed field and the
 * signature, so a cached entry can never vouch for different fields.
 */
export class GrantVerifier {
  private readonly good = new Set<string>()

  constructor (private readonly max = VERIFIED_CACHE) {}

  async verify (grant: Grant): Promise<boolean> {
    const key = `${grant.sig}|${grant.registry}|${grant.name}|${grant.peerId}|${grant.incarnation}|${grant.issuedAt}`
    if (this.good.has(key)) return true
    if (!await verifyGrantSignature(grant)) return false
    this.good.add(key)
    if (this.good.size > this.max) this.good.delete(this.good.values().next().value as string)
    return true
  }
}
