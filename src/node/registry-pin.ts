import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidConfigError, UnauthorizedError } from './errors.js'

const EXAMPLE = '(example: /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...)'

/**
 * A registry address as given by a user, checked whole: a multiaddr, and its `/p2p/` part (if
 * any) a peer id. A bad address is a usage error (InvalidConfigError), never a dial failure.
 */
export function parseRegistryAddr (text: string, label = '--registry'): Multiaddr {
  let addr: Multiaddr
  try {
    addr = multiaddr(text)
  } catch (err: any) {
    throw new InvalidConfigError(`${label} "${text}" is not a multiaddr ${EXAMPLE}: ${err?.message ?? err}`)
  }
  const ids = addr.getComponents().filter(c => c.name === 'p2p')
  // A `listening` address already ends with /p2p/<id>: pasted with one more, libp2p finds nothing to dial.
  if (ids.length > 1) throw new InvalidConfigError(`${label} "${text}" names /p2p/ ${ids.length} times: keep one, at the end ${EXAMPLE}`)
  const id = ids[0]?.value
  if (id !== undefined) {
    try {
      peerIdFromString(id)
    } catch {
      throw new InvalidConfigError(`${label} "${text}": "${id}" after /p2p/ is not a peer id (a peer id looks like 12D3KooW..., as "gds status" or the registry's "listening" line prints it)`)
    }
  }
  return addr
}

/** Registries sharing one catalogue at most (a cluster runs 3 to 5). */
export const MAX_REGISTRIES = 16

/**
 * One registry address, or several comma-separated (registries sharing one catalogue in etcd).
 * Several must each be pinned by /p2p/<id>: only those peers may send patches and grants, and
 * a set cannot be learnt from whoever answers first.
 */
export function parseRegistryList (text: string, label = '--registry'): Multiaddr[] {
  const parts = text.split(',').map(t => t.trim()).filter(t => t !== '')
  if (parts.length === 0) throw new InvalidConfigError(`${label} is empty ${EXAMPLE}`)
  if (parts.length > MAX_REGISTRIES) throw new InvalidConfigError(`${label}: ${parts.length} registries given, at most ${MAX_REGISTRIES}`)
  const addrs = parts.map(p => parseRegistryAddr(p, label))
  if (addrs.length > 1) {
    const unpinned = addrs.find(a => pinnedRegistry(a) === undefined)
    if (unpinned !== undefined) throw new InvalidConfigError(`${label} "${unpinned.toString()}": with several registries each must be pinned by /p2p/<peer id> ${EXAMPLE}`)
  }
  return addrs
}

/** The registry identity pinned by the `/p2p/<id>` part of its address, if it has one. */
export function pinnedRegistry (addr: Multiaddr): PeerId | undefined {
  const id = addr.getComponents().find(c => c.name === 'p2p')?.value
  return id === undefined ? undefined : peerIdFromString(id)
}

/** Throws UnauthorizedError if the address pins a registry and `remote` is another peer. */
export function checkPinned (addr: Multiaddr, remote: PeerId): void {
  const pinned = pinnedRegistry(addr)
  if (pinned !== undefined && !remote.equals(pinned)) {
    throw new UnauthorizedError(`the peer at ${addr.toString()} is ${remote.toString()}, not the pinned registry ${pinned.toString()}`)
  }
}
