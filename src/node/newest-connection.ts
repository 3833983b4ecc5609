import type { PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

/**
 * A new stream to `peer` on the newest open connection to it, dialled if there is none.
 * libp2p's dialProtocol takes the first open connection it holds, and after a partition heals
 * that is the old one: TCP keeps it "open" for as long as its retransmissions go unanswered,
 * while everything sent on it is lost, and the peer is back on the connection it dialled anew.
 */
export async function streamOnNewest (libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>, peer: PeerId, protocol: string | string[], signal: AbortSignal): Promise<Stream> {
  let newest
  for (const c of libp2p.getConnections(peer)) {
    if (c.status !== 'open' || c.limits != null) continue
    if (newest === undefined || c.timeline.open > newest.timeline.open) newest = c
  }
  if (newest === undefined) return libp2p.dialProtocol(peer, protocol, { signal })
  return newest.newStream(protocol, { signal })
}
