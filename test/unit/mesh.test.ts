import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import type { GdsLibp2p } from '../../src/node/libp2p.js'
import { silentLogger } from '../../src/node/logger.js'
import { MeshKeeper } from '../../src/node/mesh.js'

const newPeer = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

/** Just what the keeper uses of libp2p: who it is, its connections, and the dials it makes. */
function fakeLibp2p (self: PeerId): { libp2p: GdsLibp2p, dialed: string[] } {
  const dialed: string[] = []
  const libp2p = {
    peerId: self,
    getPeers: () => [],
    getConnections: () => [],
    peerStore: { merge: async () => {} },
    dial: async (peer: PeerId) => { dialed.push(peer.toString()) }
  } as unknown as GdsLibp2p
  return { libp2p, dialed }
}

describe('mesh keeper', () => {
  it('links to peers of the catalogue it holds, not only those gossip taught it (members are quiet while the registry is up)', async () => {
    const [self, registry, ...others] = await Promise.all(Array.from({ length: 7 }, newPeer))
    const { libp2p, dialed } = fakeLibp2p(self)
    const members = [self, registry, ...others].map(p => ({ peerId: p.toString(), addrs: ['/ip4/127.0.0.1/tcp/1'] }))
    const mesh = new MeshKeeper({ libp2p, log: silentLogger, degree: 4, intervalMs: 60_000, registryId: () => registry.toString(), members: () => members })
    await mesh.tick()
    expect(dialed).toHaveLength(4)
    // Never itself, never the registry.
    expect(dialed.every(p => others.map(String).includes(p))).toBe(true)
  })
})
