import type { Catalog } from './catalog.js'
import { UnauthorizedError } from './errors.js'
import type { GdsLibp2p } from './libp2p.js'
import type { Logger } from './logger.js'
import { serveMux, streamed } from './mux.js'
import { listPages, pageRecords } from './pages.js'
import type { Presence } from './presence.js'
import { MAX_INBOUND_REGISTRY_STREAMS, MAX_REGISTRY_IN_FLIGHT, MAX_REQUEST_FRAME, REGISTRY_PROTOCOL } from './protocols.js'
import type { RegistrySession } from './registry-session.js'
import { registryRequest, type ListResult, type ProviderRecord } from './schemas.js'

export interface PeerViewComponents {
  libp2p: GdsLibp2p
  catalog: Catalog
  presence: Pick<Presence, 'registrations'>
  session: Pick<RegistrySession, 'registryPeer' | 'isConnected' | 'lastContactAt'>
  log: Logger
  now: () => number
}

/**
 * Every node but the registry answers `list` and `lookup` on the registry protocol with its own
 * view (its entries and every record it has heard: the whole catalogue, as fresh as gossip kept
 * it), so the cluster can be looked at and called through any peer while the registry is away
 * (`gds status --peer`, `gds call --peer`). Every other registry op is refused.
 */
export class PeerView {
  constructor (private readonly c: PeerViewComponents) {}

  async start (): Promise<void> {
    await serveMux(this.c.libp2p, REGISTRY_PROTOCOL, async req => {
      if (req.op === 'list') return req.stream === true ? streamed(listPages(this.view())) : this.view()
      // Calls through this peer while the registry is away (`gds call --peer`): its table answers.
      if (req.op === 'lookup') {
        const providers = this.view().services.filter(r => r.name === req.name)
        return req.stream === true ? streamed(pageRecords(providers)) : { providers }
      }
      throw new UnauthorizedError(`this peer is not the registry; it only answers "list" and "lookup" (asked: ${req.op})`)
    }, { requestSchema: registryRequest, maxBytes: MAX_REQUEST_FRAME, maxInboundStreams: MAX_INBOUND_REGISTRY_STREAMS, maxInFlight: MAX_REGISTRY_IN_FLIGHT, log: this.c.log })
  }

  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(REGISTRY_PROTOCOL).catch(() => {})
  }

  view (): ListResult {
    const self = this.c.libp2p.peerId.toString()
    const own: ProviderRecord[] = this.c.presence.registrations().map(r => ({ ...r, peerId: self, status: 'up' as const }))
    return {
      registry: { peerId: this.c.session.registryPeer?.toString() ?? self, addrs: [] },
      services: [...own, ...this.c.catalog.all()],
      source: {
        peerId: self,
        role: 'peer',
        registryConnected: this.c.session.isConnected,
        connectedPeers: this.c.libp2p.getPeers().length,
        registryLastSeen: this.c.session.lastContactAt,
        changedAt: this.c.catalog.changedAt,
        now: this.c.now()
      }
    }
  }
}
