import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { UnauthorizedError } from './errors.js'

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
