import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { BATCH_ID_PATTERN, DESCRIBE_METHOD, MAX_ADDRS, MAX_NAMES_PER_PEER, MAX_REQUIRES, METHOD_NAME_PATTERN, SERVICE_NAME_PATTERN } from './protocols.js'

/**
 * Every message on every gds protocol, as a zod schema. Inbound bytes are parsed here and
 * nowhere else; a message that does not fit is answered with an InvalidMessageError.
 */

export const serviceName = z.string().max(63).regex(SERVICE_NAME_PATTERN, 'a service name is 1-63 lowercase letters, digits and "-"')
const peerIdString = z.string().min(40).max(128).regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'a peer id is base58')
const multiaddrString = z.string().min(2).max(512).startsWith('/')
/**
 * At the door only (a registration): a multiaddr that `multiaddr()` parses, so the registry
 * applies nothing it cannot dial. Records elsewhere (patches, gossip, list answers of thousands
 * of entries) skip the parse: every reader of an addr already copes with one that fails.
 */
const dialableMultiaddr = multiaddrString.refine(isMultiaddr, 'not a multiaddr this node can parse')
const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
/**
 * The highest incarnation or seq a peer may send. The registry bumps seq at each change it
 * makes; 2^52 leaves 2^52 bumps of headroom below Number.MAX_SAFE_INTEGER, the records' ceiling.
 */
export const MAX_VERSION = 2 ** 52
const meta = z.record(z.string().max(64), z.string().max(256)).refine(m => Object.keys(m).length <= 32, 'at most 32 meta keys')

export const STATUSES = ['up', 'suspect', 'down', 'leaving'] as const
export const status = z.enum(STATUSES)

/** What a provider says about itself when it registers (the peer id comes from the connection). */
export const registration = z.strictObject({
  name: serviceName,
  addrs: z.array(dialableMultiaddr).max(MAX_ADDRS),
  requires: z.array(serviceName).max(MAX_REQUIRES).default([]),
  version: z.string().max(64).default('0.0.0'),
  meta: meta.default({}),
  incarnation: counter.max(MAX_VERSION),
  seq: counter.max(MAX_VERSION)
})
export type Registration = z.infer<typeof registration>

/** One provider entry as the catalogue holds it and as patches carry it. */
export const providerRecord = z.strictObject({
  name: serviceName,
  peerId: peerIdString,
  addrs: z.array(multiaddrString).max(MAX_ADDRS),
  requires: z.array(serviceName).max(MAX_REQUIRES),
  version: z.string().max(64),
  meta,
  incarnation: counter,
  seq: counter,
  status,
  /** Why the status last changed: registered, connection-closed, heartbeat-timeout, left... */
  reason: z.string().max(64).optional(),
  /** Epoch ms of the last successful heartbeat (or registration). */
  lastSeen: counter.optional(),
  rttMs: z.number().nonnegative().optional(),
  load: counter.optional(),
  /**
   * `http`: a service of the original Go registry's HTTP API (--http-compat). It has no libp2p
   * peer: `peerId` is derived from its URL and no key can ever authenticate as it, its addrs are
   * empty, and nothing dials it. Absent: a libp2p provider.
   */
  transport: z.literal('http').optional(),
  /** The service's own URL (its identity in the HTTP API), for `http` entries. */
  url: z.string().max(256).optional()
})
export type ProviderRecord = z.infer<typeof providerRecord>
/**
 * An entry as a registry on a shared store lists it: with the registry that probes it (the one
 * the service is registered with). Never stored or gossiped: a listing's, not the entry's.
 */
export const listedRecord = providerRecord.extend({ registry: peerIdString.optional() })
export type ListedRecord = z.infer<typeof listedRecord>

/**
 * The registry's word that a peer may provide a name (src/node/grant.ts signs and checks it):
 * issued at each registration, attached by the owner to its announcements on gossip, so any
 * peer can judge an announcement without asking anyone. `sig` is an Ed25519 signature
 * (64 bytes, base64) by `registry`, whose peer id carries its public key.
 */
export const grant = z.strictObject({
  registry: peerIdString,
  name: serviceName,
  peerId: peerIdString,
  incarnation: counter,
  /** Epoch ms at the registry; for people reading it (see grant.ts on why grants do not expire). */
  issuedAt: counter,
  sig: z.string().length(88).regex(/^[A-Za-z0-9+/]{86}==$/, 'a signature is 64 bytes in base64')
})
export type Grant = z.infer<typeof grant>

export const registryRequest = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('register'),
    services: z.array(registration).min(1).max(MAX_NAMES_PER_PEER)
      .refine(regs => new Set(regs.map(r => r.name)).size === regs.length, 'each name at most once per registration')
  }),
  z.strictObject({ op: z.literal('deregister'), names: z.array(serviceName).min(1).max(MAX_NAMES_PER_PEER) }),
  /** `stream`: answer in pages (items: arrays of records), for a name with very many providers. */
  z.strictObject({ op: z.literal('lookup'), name: serviceName, stream: z.literal(true).optional() }),
  /** `stream`: answer in pages (items of listPage), for a catalogue bigger than one frame. */
  z.strictObject({ op: z.literal('list'), stream: z.literal(true).optional() }),
  z.strictObject({ op: z.literal('suspect'), peerId: peerIdString })
])
export type RegistryRequest = z.infer<typeof registryRequest>

const wireError = z.object({
  name: z.string().max(64),
  code: z.string().max(64),
  message: z.string().max(4096),
  retryable: z.boolean().optional(),
  data: z.record(z.string(), z.unknown()).optional()
})

/**
 * Requests multiplexed on one long-lived stream (src/node/mux.ts): each carries an id, its
 * answer carries the same id and a result or a typed error. Id 0 is the stream's own: an answer
 * to a frame whose id could not be read.
 */
export function muxRequest<T extends z.ZodType> (req: T) {
  return z.strictObject({ id: counter.min(1), req })
}
/** Just the id of a request frame, to answer a frame that is otherwise wrong. */
export const muxId = z.object({ id: counter.min(1) })
/** The caller stopped reading a streamed answer. */
export const muxCancel = z.strictObject({ id: counter.min(1), cancel: z.literal(true) })
/** One answer, or the items then the end of a streamed one (an error ends it too). */
export const muxAnswer = z.union([
  z.strictObject({ id: counter, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ id: counter, ok: z.literal(false), error: wireError }),
  z.strictObject({ id: counter, item: z.unknown() }),
  z.strictObject({ id: counter, end: z.literal(true) })
])
export type MuxAnswer = z.infer<typeof muxAnswer>

/** Peers a register answer offers as mesh candidates. */
export const MESH_SEED_PEERS = 8

export const registerResult = z.object({
  records: z.array(providerRecord),
  /** The current providers of every required name (the seed's initial patch). */
  providers: z.array(providerRecord),
  /**
   * A few other live peers to seed the gossip mesh: a node that requires nothing learns no peer
   * from its answer or its patches, and without links a `leaving` it gossips while the registry
   * is away reaches no one. Absent from older registries.
   */
  peers: z.array(providerRecord.pick({ peerId: true, addrs: true })).max(MESH_SEED_PEERS).default([]),
  /** One grant per registered name, for the announcements on gossip. Absent from older registries. */
  grants: z.array(grant).max(MAX_NAMES_PER_PEER).default([]),
  /**
   * The providers would outgrow a frame (hundreds of big entries): `providers` is empty and the
   * registrant asks for each required name with a streamed lookup. Absent from older registries.
   */
  providersOmitted: z.literal(true).optional()
})
export type RegisterResult = z.infer<typeof registerResult>

export const listResult = z.object({
  registry: z.object({ peerId: peerIdString, addrs: z.array(multiaddrString) }),
  services: z.array(listedRecord),
  /** Whose table this is: the registry's, or one peer's view (every record it has heard). */
  source: z.object({
    peerId: peerIdString,
    role: z.enum(['registry', 'peer']),
    registryConnected: z.boolean(),
    /** Peers this node is connected to (its share of the gossip mesh). */
    connectedPeers: counter.optional(),
    /** A registry's catalogue store: `unreachable` means it serves from memory, `pending` changes unwritten. */
    store: z.object({ kind: z.enum(['file', 'etcd']), state: z.enum(['ok', 'unreachable']), pending: counter, where: z.string().max(4096) }).optional(),
    /** How fresh a peer's view is: when the registry last probed it (epoch ms; 0: never). */
    registryLastSeen: counter.optional(),
    /** When its table last changed (epoch ms; 0: never). */
    changedAt: counter.optional(),
    /** Its clock when it answered, so a reader on another clock can say "n s ago". */
    now: counter.optional()
  }).optional()
})
export type ListResult = z.infer<typeof listResult>

/**
 * One page of a streamed `list` (and of a watch snapshot): the first carries `registry` and
 * `source`, every page some services. Pages keep each frame far below the frame limit however
 * big the catalogue is.
 */
export const listPage = z.strictObject({
  registry: listResult.shape.registry.optional(),
  source: listResult.shape.source,
  services: z.array(listedRecord)
})
export type ListPage = z.infer<typeof listPage>

export const lookupResult = z.object({ providers: z.array(providerRecord) })
/** One page of a streamed lookup. */
export const lookupPage = z.array(providerRecord)
export const deregisterResult = z.object({ removed: z.array(serviceName) })
export const suspectResult = z.object({ probing: z.boolean() })

/**
 * A member's suspicion of another (gossip, kind `suspect`): it could not reach `peerId` at this
 * version of its entries. Also what an indirect check asks about and answers (`/gds/check`).
 */
export const suspicion = z.strictObject({ peerId: peerIdString, incarnation: counter, seq: counter })
export const checkRequest = z.strictObject({ peerId: peerIdString })
export const checkResult = z.strictObject({ reachable: z.boolean() })

export const heartbeatProbe = z.strictObject({ type: z.literal('probe'), id: counter })
/** `degraded` while a required name has no `up` provider. */
const health = z.enum(['ok', 'degraded'])
export const heartbeatAck = z.strictObject({
  type: z.literal('ack'),
  id: counter,
  health,
  /** Calls in flight on this provider (for least-loaded balancing). */
  load: counter
})
/**
 * provider → registry on HEARTBEAT_PUSH_PROTOCOL, every interval, unasked: what an ack says.
 * `echo` (every few beats) asks the registry to answer with that id: the provider's sign that
 * the registry is alive, which it no longer reads from the probes.
 */
export const heartbeatBeat = z.strictObject({ type: z.literal('beat'), health, load: counter, echo: counter.optional() })
/** registry → provider: the answer to a beat's `echo`. */
export const heartbeatEcho = z.strictObject({ type: z.literal('echo'), id: counter })
/** What a provider sends on a heartbeat stream; on HEARTBEAT_PROTOCOL only acks. */
export const heartbeatFromProvider = z.discriminatedUnion('type', [heartbeatAck, heartbeatBeat])
/** What the registry sends on a heartbeat stream; on HEARTBEAT_PROTOCOL only probes. */
export const heartbeatFromRegistry = z.discriminatedUnion('type', [heartbeatProbe, heartbeatEcho])

/** Gossip batches one patch frame may name (more are left out: their gossip copies are just verified). */
export const MAX_NOTIFY_BATCHES = 64

export const notifyPatch = z.strictObject({
  type: z.literal('patch'),
  records: z.array(providerRecord).max(10_000),
  /** The registry's gossip batches whose every record this node has once it applied this frame (gossip-id.ts). */
  delivered: z.array(z.string().regex(BATCH_ID_PATTERN)).max(MAX_NOTIFY_BATCHES).optional()
})
export type NotifyPatch = z.infer<typeof notifyPatch>

/** caller → provider on /gds/rpc/1.0.0: a call, or the cancellation of a streaming one. */
export const rpcRequest = z.union([
  z.strictObject({
    id: counter,
    service: serviceName,
    method: z.string().max(64).refine(m => METHOD_NAME_PATTERN.test(m) || m === DESCRIBE_METHOD, 'a method name is an identifier of up to 64 characters'),
    params: z.unknown().optional()
  }),
  z.strictObject({ id: counter, cancel: z.literal(true) })
])
export type RpcRequest = z.infer<typeof rpcRequest>

/** provider → caller: one answer, or the items and end of a streaming answer. */
export const rpcResponse = z.union([
  z.strictObject({ id: counter, ok: z.literal(true), result: z.unknown().optional() }),
  z.strictObject({ id: counter, ok: z.literal(false), error: wireError }),
  z.strictObject({ id: counter, item: z.unknown() }),
  z.strictObject({ id: counter, end: z.literal(true) })
])
export type RpcResponse = z.infer<typeof rpcResponse>

/** observer → registry on /gds/watch/1.0.0 (the only frame an observer sends). */
export const watchRequest = z.strictObject({ type: z.literal('watch') })

/** registry → observer: the catalogue, then each change, then liveness figures every second. */
const watchMessages = [
  z.strictObject({ type: z.literal('snapshot'), ts: counter, ...listResult.shape }),
  z.strictObject({ type: z.literal('change'), ts: counter, record: providerRecord, previous: status.optional(), removed: z.boolean().optional() }),
  z.strictObject({
    type: z.literal('figures'),
    ts: counter,
    peers: z.array(z.strictObject({ peerId: peerIdString, rttMs: z.number().nonnegative().optional(), load: counter.optional(), lastSeen: counter.optional() }))
  })
] as const
export const watchMessage = z.discriminatedUnion('type', watchMessages)
export type WatchMessage = z.infer<typeof watchMessage>

/**
 * What travels on the watch stream: a big snapshot is split, its first frame marked `more` and
 * followed by `snapshot-more` pages, the last without `more`; the client joins them into one
 * snapshot (WatchMessage) before anyone sees it.
 */
export const watchFrame = z.discriminatedUnion('type', [
  watchMessages[0].extend({ more: z.literal(true).optional() }),
  watchMessages[1],
  watchMessages[2],
  z.strictObject({ type: z.literal('snapshot-more'), services: z.array(providerRecord), more: z.literal(true).optional() })
])
export type WatchFrame = z.infer<typeof watchFrame>

function isMultiaddr (s: string): boolean {
  try {
    multiaddr(s)
    return true
  } catch {
    return false
  }
}
