import './../polyfills.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { GossipSub } from '@libp2p/gossipsub'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import { preSharedKey } from '@libp2p/pnet'
import type { ConnectionGater, MultiaddrConnection, PrivateKey } from '@libp2p/interface'
import { CATALOG_TOPIC } from './protocols.js'
import { Admission, hostOf } from './admission.js'
import { DEFAULT_ADMISSION, type GdsConfig } from './config.js'
import { tuneWire } from './wire-tuning.js'
import { fastMessageId, messageId, messageIdString } from './gossip-id.js'
import { ListenError } from './errors.js'
import { loadOrCreateKey } from './identity.js'
import { readSwarmKey } from './swarm-key.js'
import { libp2pLogger } from './quiet-logger.js'

/**
 * Bytes a stream's sender may have in flight unread (yamux's window, 16 MiB by default). A
 * Channel pauses a stream whose reader falls behind (framing.ts); what the sender already had
 * the window for still arrives, and lands in one piece when the stream resumes, so it must fit
 * the reader's buffer. 1 MiB still moves a gigabyte a second over a LAN round trip.
 */
export const MAX_STREAM_WINDOW = 1024 * 1024

/**
 * No yamux keep-alive: its ping (every 30 s per connection, both ways) only measures an RTT
 * nothing reads, and a failed one only logs. Liveness is gds's: heartbeats on every registry
 * link, libp2p's connection monitor on the other nodes' links. At a registry with 1,000
 * services it was 67 frames a second and a timer and abort controller per connection.
 */
function muxer (): ReturnType<typeof yamux> {
  tuneWire()
  return yamux({ enableKeepAlive: false, streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW } })
}

export type GdsLibp2p = Libp2p<{ identify: Identify, ping: Ping, pubsub: GossipSub }>

export type AdmissionLimits = { -readonly [K in keyof typeof DEFAULT_ADMISSION]: number }

/**
 * The connection gater that caps pending upgrades per host (admission.ts); libp2p calls it
 * as an inbound connection starts its upgrade and again when the upgrade is done.
 */
export function admissionGater (maxPerHost: number): ConnectionGater {
  const admission = new Admission<MultiaddrConnection>(maxPerHost)
  return {
    denyInboundConnection: maConn => {
      if (!admission.admit(maConn, hostOf(maConn.remoteAddr.toString()))) return true
      // A failed or timed-out upgrade ends with the socket.
      maConn.addEventListener('close', () => { admission.done(maConn) }, { once: true })
      return false
    },
    denyInboundUpgradedConnection: (_peer, maConn) => {
      admission.done(maConn)
      return false
    }
  }
}

/**
 * How gossipsub scores a peer on the catalogue topic: only invalid messages count (the
 * validator's REJECTs: forged grants, patches not from the registry, a flooder beyond its
 * budget), as -count² decaying 1 % a second. gds gossip is sparse by design (an announcement
 * per node per 30 s), so the delivery-rate terms, which punish quiet mesh peers, are off, and
 * so are the rewards, which would let a peer bank credit before it floods.
 */
export const CATALOG_TOPIC_SCORE: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.99
}

/**
 * gossipsub's own defaults, spelt out: nine invalid messages (-81) graylist a peer (its RPCs are
 * dropped unread, so a flooder stops costing signature checks) until its count fades below nine
 * (20 rejects keep it out about 80 s; each failed try after that, about 10 s more); an honest
 * peer's rare reject costs -1 and fades.
 */
export const GOSSIP_SCORE_THRESHOLDS = { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 }

export interface Libp2pOptions {
  privateKey?: PrivateKey
  listen: string[]
  /** Contents of a swarm key file: only peers with the same key can connect. */
  swarmKey?: Uint8Array
  /**
   * The registry's stack: it keeps a connection to every service (libp2p's default of 300 would
   * prune a larger cluster's services, which then look crashed), and it runs no connection
   * monitor, whose ping opens a new stream per peer every 10 s: the registry's heartbeats
   * already probe every provider each second on a long-lived stream.
   */
  hub?: boolean
  /** @default DEFAULT_ADMISSION */
  admission?: Partial<AdmissionLimits>
}

export type ClientLibp2p = Libp2p<{ ping: Ping }>

/**
 * A short-lived dial-only peer for CLI commands (status, grades, logs): no listener, no
 * gossip, an ephemeral identity; the smallest thing that can speak to a registry. No identify
 * either: a command dials addresses it was given and names the protocol of each stream, so what
 * identify would tell it (the remote's addresses and protocols, into the peer store) goes
 * unused, and the exchange was about 7 % of a cold `gds status`'s CPU. The remote's identify of
 * this peer fails quietly; nothing in gds reads it.
 */
export async function createClientLibp2p (opts: { swarmKey?: Uint8Array } = {}): Promise<ClientLibp2p> {
  return createLibp2p({
    ...libp2pLogger(),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [muxer()],
    ...(opts.swarmKey === undefined ? {} : { connectionProtector: preSharedKey({ psk: opts.swarmKey }) }),
    connectionMonitor: { enabled: false },
    services: { ping: ping() }
  })
}

/**
 * libp2p's connection monitor on a node's links (the registry runs none): a ping per link every
 * 10 s, and a link whose ping fails is aborted. Its floor for the ping's deadline was 5 s, and a
 * ping is a new stream (multistream-select at both ends) served by event loops that, with many
 * nodes to a core, stall that long: in the fanout bench the monitor aborted live links at
 * start-up (45 by 50 dependents) and right after the registry's loss, when every node starts
 * checking its peers, and the redials and the announcements to each re-joining topic peer fed the
 * next stalls. 30 s: a link silent that long is dead, not slow. A dead link is still noticed
 * sooner where it matters: the registry's by the session's silence check, a peer's by the peer
 * watch's probes while no registry is in reach (a few beats); this only closes it.
 */
export const CONNECTION_MONITOR = { pingTimeout: { minTimeout: 30_000 } }

/** Connections the registry keeps: one per service; the design sizes for 5,000 entries. */
const HUB_MAX_CONNECTIONS = 6_000

/** The libp2p stack every gds process runs: TCP + noise + yamux, identify, ping, gossipsub. */
export async function createGdsLibp2p (opts: Libp2pOptions): Promise<GdsLibp2p> {
  // Loaded here, not at the top, so CLI commands that only dial do not pay for it.
  const { gossipsub } = await import('@libp2p/gossipsub')
  const { createTopicScoreParams } = await import('@libp2p/gossipsub/score')
  const admission = { ...DEFAULT_ADMISSION, ...opts.admission }
  return createLibp2p({
    ...libp2pLogger(),
    ...(opts.privateKey === undefined ? {} : { privateKey: opts.privateKey }),
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [muxer()],
    ...(opts.swarmKey === undefined ? {} : { connectionProtector: preSharedKey({ psk: opts.swarmKey }) }),
    connectionManager: {
      // libp2p's default (5 inbound connections per second per IP) fails a fifth of the dials
      // of a 10-node cluster on one host; a registry takes many connections from few hosts.
      inboundConnectionThreshold: 1000,
      maxIncomingPendingConnections: admission.maxPendingConnections,
      inboundUpgradeTimeout: admission.upgradeTimeoutMs,
      ...(opts.hub === true ? { maxConnections: HUB_MAX_CONNECTIONS } : {})
    },
    connectionGater: admissionGater(admission.maxPendingPerHost),
    connectionMonitor: opts.hub === true ? { enabled: false } : CONNECTION_MONITOR,
    services: {
      identify: identify(),
      ping: ping(),
      // StrictSign (the default) signs every message; publishing before anyone subscribes is normal at start.
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        // IDONTWANT (gossipsub 1.2) goes to every mesh peer, one more encrypted write each, before
        // the message is even validated: worth it for large messages, not for catalogue messages
        // of a few hundred bytes (an announcement with its grants), where it doubled the writes.
        idontwantMinDataSize: IDONTWANT_MIN_BYTES,
        emitSelf: false,
        // Catalogue message ids (gossip-id.ts): a registry patch a dependent already has from the hub is dropped unverified.
        fastMsgIdFn: fastMessageId,
        msgIdFn: messageId,
        msgIdToStrFn: messageIdString,
        // gossipsub graylists the 11th and later peers sharing an IP (a sybil defence for open
        // networks). A gds cluster often runs many peers per host (cluster up, containers,
        // tests), and its trust comes from noise, the swarm key and the catalog validator.
        scoreParams: { IPColocationFactorWeight: 0, topics: { [CATALOG_TOPIC]: createTopicScoreParams(CATALOG_TOPIC_SCORE) } },
        scoreThresholds: GOSSIP_SCORE_THRESHOLDS
      })
    }
  })
}

/** Messages below this size get no IDONTWANT: every catalogue message but a patch of many records. */
const IDONTWANT_MIN_BYTES = 16 * 1024

/** A node process's libp2p: its key from the data dir, the swarm key, its listen addresses. */
export async function createNodeLibp2p (config: GdsConfig, hub: boolean): Promise<{ libp2p: GdsLibp2p, privateKey: PrivateKey }> {
  const privateKey = await loadOrCreateKey(config.dataDir)
  const swarmKey = await readSwarmKey(config.swarmKeyFile)
  try {
    return { libp2p: await createGdsLibp2p({ privateKey, listen: config.listen, swarmKey, hub }), privateKey }
  } catch (err: any) {
    throw new ListenError(config.listen.join(', '), err, 'choose another with --listen')
  }
}
