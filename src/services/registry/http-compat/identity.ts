import { createHash } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { urlKey } from './wire.js'

/**
 * The catalogue identity of a service of the HTTP API, stable across restarts: a sha256
 * multihash of its URL, in base58 (`Qm…`), the shape of an RSA peer id. Every schema and parser
 * of peer ids accepts it, yet no process can ever authenticate as it (that would take a public
 * key hashing to it), so a libp2p peer cannot pose as an HTTP service or the other way round.
 */
export function httpPeerId (url: string): string {
  const digest = createHash('sha256').update(`gds-http-compat:${urlKey(url)}`).digest()
  const multihash = new Uint8Array(2 + digest.length)
  multihash[0] = 0x12 // sha2-256
  multihash[1] = digest.length
  multihash.set(digest, 2)
  return base58btc.baseEncode(multihash)
}
