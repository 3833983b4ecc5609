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
  const id = addr.getComponents().find(c => c.name === 'p2p')?.value
  if (id !== undefined) {
    try {
      peerIdFromString(id)
    } catch {
      throw new InvalidConfigError(`${label} "${text}": "${id}" after /p2p/ is not a peer id (a peer id looks like 12D3KooW..., as "gds status" or the registry's "listening" line prints it)`)
    }
  }
  return addr
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
