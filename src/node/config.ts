import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidConfigError } from './errors.js'
import { fnv1a } from './fnv.js'
import { SERVICE_NAME_PATTERN } from './protocols.js'

/**
 * Everything a gds node can be told, with its default. Precedence is applied once, here and in
 * the commands' flag definitions: defaults → environment (`GDS_*`, declared on each flag) → flags.
 */
export interface GdsConfig {
  /** `registry`, `service`, a built-in role name, or a path to a service module. */
  role: string
  /** The name this node registers under (role `service` and custom modules). @default the role */
  name: string
  /** Service names this node needs; it starts degraded while any has no provider. @default [] */
  requires: string[]
  /**
   * Multiaddr of the registry, with `/p2p/<id>` to pin its identity; several comma-separated (each
   * pinned) for registries sharing one catalogue. @default GDS_REGISTRY or /ip4/127.0.0.1/tcp/4001
   */
  registry: string
  /** Multiaddrs to listen on. @default registry: /ip4/0.0.0.0/tcp/4001, others: /ip4/0.0.0.0/tcp/0 */
  listen: string[]
  /** Where the identity key, the lock and role data live. @default <state dir>/gds/<name> */
  dataDir: string
  /** Peers to dial at start besides the registry (join the gossip mesh through any peer). @default [] */
  bootstrap: string[]
  /** Connections each node keeps to random non-registry peers, so gossip survives the registry. @default 4 */
  meshDegree: number
  /** Path of a private-network swarm key; peers without it cannot connect. @default none */
  swarmKeyFile?: string
  /** Registry: a JSON file mapping a service name to the peer ids allowed to provide it. @default none (open) */
  aclFile?: string
  /** How often the registry probes each provider. @default 1000 */
  heartbeatIntervalMs: number
  /** How long a probe may take before it counts as a miss (a suspect's confirming probe: half as long). @default 500 */
  heartbeatTimeoutMs: number
  /** Consecutive misses before a provider is `down`. @default 2 */
  failureThreshold: number
  /** How long a `down` or `leaving` entry stays listed before it is removed. @default 60000 */
  reapAfterMs: number
  /** First delay before re-dialling a lost registry; doubles up to reconnectMaxMs, with jitter. @default 200 */
  reconnectMinMs: number
  /** @default 5000 */
  reconnectMaxMs: number
  /**
   * Several registries: after a failover, how often a service asks whether its home registry
   * (the one its peer id picks) is back; two answers in a row and it registers there again
   * (jittered ±25 %, so it has been back a while, and never more than once per two checks). @default 5000
   */
  homeCheckMs: number
  /** grading: the SQLite file; instances on one host may share it (WAL). @default <dataDir>/grading.db */
  dbPath?: string
  /** webui: the HTTP port. @default 8080 */
  httpPort: number
  /**
   * webui: the address the HTTP server binds. Loopback keeps the portal to this machine; any
   * other address (0.0.0.0 included) requires `httpToken`. @default 127.0.0.1
   */
  httpHost: string
  /**
   * webui: the token a browser signs in with (then a cookie) or a script sends as
   * `Authorization: Bearer`. Required beyond loopback: when not given there, one is generated
   * once into `<dataDir>/http-token` and printed at start. Given on loopback, it is required
   * there too (other users of a shared machine reach loopback). @default none
   */
  httpToken?: string
  /**
   * Entries the catalogue holds at most, any status (the registry refuses new registrations
   * beyond it with CatalogFullError; other nodes drop what is beyond it, but hold the providers of
   * the names they require under a cap of their own, as large). @default DEFAULT_MAX_ENTRIES (10000)
   */
  maxEntries: number
  /**
   * registry: also serve the original Go registry's HTTP API here; log: also take the Go
   * services' `POST /log` here. HOST:PORT, or PORT (or :PORT) for 127.0.0.1. @default none
   */
  httpCompat?: string
  /**
   * registry: where the catalogue lives. None: `catalog.json` in the data dir (one registry).
   * `etcd://HOST:PORT[,HOST:PORT...]`: in etcd, shared by every registry given the same store. @default none
   */
  store?: string
  /** pino level for the stderr log. @default warn */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'
}

export const REGISTRY_PORT = 4001
export const DEFAULT_HTTP_PORT = 8080
/** Loopback: nothing off this machine can reach the portal unless asked for (`--http-host`). */
export const DEFAULT_HTTP_HOST = '127.0.0.1'
export const DEFAULT_REGISTRY_ADDR = `/ip4/127.0.0.1/tcp/${REGISTRY_PORT}`
/**
 * Catalogue entries at most: the 10,000 the registry is sized and measured for (bench/register.js
 * to 10,000 entries). Typical entries are about 400 bytes (4 MB for the whole table); a table of
 * maximum-size entries (64 KiB each) would be far more, which a lower `--max-entries` bounds.
 */
export const DEFAULT_MAX_ENTRIES = 10_000
/**
 * Admission of inbound connections (libp2p.ts, admission.ts). 260 idle sockets from one host,
 * re-opened as they timed out, held libp2p's 256 pending upgrades for 10 s at a time and
 * locked every other host out.
 */
export const DEFAULT_ADMISSION = {
  /** Connections upgrading at once, all hosts together (libp2p's maxIncomingPendingConnections). */
  maxPendingConnections: 256,
  /**
   * Of those, from one host: the rest always have room. High enough for a host that starts
   * many nodes at once (cluster up, the benches start 50 peers at a time), a quarter of the total.
   */
  maxPendingPerHost: 64,
  /** How long an inbound upgrade (pnet, noise, yamux) may take: a real one takes milliseconds. */
  upgradeTimeoutMs: 5_000
} as const

/** The highest --max-entries accepted: beyond it a table of maximum-size entries would not fit in memory. */
export const MAX_MAX_ENTRIES = 100_000

/** Timings a LAN cluster wants (memberlist's DefaultLANConfig has the same shape). */
export const DEFAULT_TIMINGS = {
  // 1 Hz keeps 1,000 providers under a few % of a core and detects a hang within ~2 s.
  heartbeatIntervalMs: 1000,
  // LAN RTTs are < 5 ms; 500 ms is generous for a busy event loop without hiding a hang.
  heartbeatTimeoutMs: 500,
  // One miss makes a provider suspect and triggers an immediate re-probe; two make it down.
  failureThreshold: 2,
  // Long enough for `gds status` to show what died; short enough that the table stays clean.
  reapAfterMs: 60_000,
  reconnectMinMs: 200,
  reconnectMaxMs: 5_000,
  // Long enough that a registry restarting in a loop is left alone, short enough that the load spreads again soon.
  homeCheckMs: 5_000
} as const

/**
 * How `gds cluster up` restarts a member that dies (a process supervisor's rules, as systemd's
 * StartLimitBurst/StartLimitIntervalSec): back-off doubling from minDelayMs to maxDelayMs, and
 * after maxRestarts restarts within windowMs it gives up on that member and says so.
 */
export const CLUSTER_RESTART = {
  // Fast enough that a crash costs a client one failover, slow enough not to spin on a bad config.
  minDelayMs: 500,
  maxDelayMs: 8_000,
  maxRestarts: 5,
  windowMs: 60_000
} as const

/** Registries `gds cluster up` runs at most (`--registries`): they share one local etcd. */
export const MAX_CLUSTER_REGISTRIES = 9

/**
 * Where `gds cluster up --registries N` runs its etcd when --etcd-port is not given: a client
 * port (even; the peer port is the next one) picked by a hash of the data dir, so two clusters
 * with different data dirs get different ports and a restart gets the same ones. The range is
 * below Linux's ephemeral ports (32768+), which the kernel hands to every other program.
 */
export const CLUSTER_ETCD_PORTS = { base: 20_000, span: 10_000 } as const

/** The etcd client and peer ports of the cluster in `dataDir` (CLUSTER_ETCD_PORTS), or those from `client`. */
export function clusterEtcdPorts (dataDir: string, client?: number): { client: number, peer: number } {
  const c = client ?? CLUSTER_ETCD_PORTS.base + 2 * (fnv1a(resolve(dataDir)) % (CLUSTER_ETCD_PORTS.span / 2))
  return { client: c, peer: c + 1 }
}

/** The file in a cluster's data dir that says who supervises it (read by `cluster status|down`). */
export const CLUSTER_STATE_FILE = 'cluster.json'

/**
 * Fast timings for tests (serf's testConfig idea): detection in a few hundred ms, fast reaping,
 * yet a probe may take 150 ms, so a busy 2-core CI machine does not make healthy peers suspect.
 */
export const TEST_TIMINGS = {
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 150,
  failureThreshold: 2,
  reapAfterMs: 2_000,
  reconnectMinMs: 20,
  reconnectMaxMs: 300,
  homeCheckMs: 300
} as const

/**
 * What one peer may publish on the catalogue topic, as each node that hears it counts. A
 * healthy node announces every 30 s, at each registration and at most once a second for peers
 * joining the topic (ANNOUNCE_MIN_GAP_MS); a flooder (2,000 a second were seen) is held to `ratePerSec`,
 * and each message beyond it is rejected, which sinks its gossipsub score until it is
 * graylisted (src/node/libp2p.ts). The registry's patches are not counted.
 */
export const GOSSIP_BUDGET = { burst: 30, ratePerSec: 5, maxPeers: 4_096 } as const

/**
 * Failure verdicts among peers while a node has no registry session (DESIGN.md §4; the rule is
 * src/node/peer-verdicts.ts, the checks src/node/peer-watch.ts). Each beat (heartbeatIntervalMs)
 * a node checks ONE member it is connected to, round-robin over them shuffled (SWIM's probe
 * order, src/node/probe-order.ts), and its dependents together check each provider
 * `dependentChecks` times; each check bounded by heartbeatTimeoutMs stretched by the node's own
 * health (src/node/local-health.ts); a closed connection, a failed call or a suspicion of a
 * provider it requires makes it check that peer at once.
 */
export const PEER_VERDICTS = {
  // Checks of a provider by its dependents, all together, each beat (on top of SWIM's one
  // member a beat per node): a hang of what a node requires is found within ~2 beats, at a
  // cost per provider, not per dependent.
  dependentChecks: 2,
  // SWIM's k (memberlist's IndirectChecks): members asked to check a peer our own check failed.
  indirectCheckers: 3,
  // Other members whose failure must confirm our own: two nodes' word at least, never one's.
  quorum: 1,
  // How long a failed check counts towards a verdict: a few beats, not an old grudge.
  evidenceTtlMs: 10_000,
  // Our own check of a peer another member accused, at most this often per accused peer, so a
  // flood of suspicions costs one check, not one each.
  recheckGapMs: 250,
  // The accused refutes at most this often: forged suspicions cannot make it storm the topic
  // (one announcement a second is far within the gossip budget peers hold it to).
  refuteGapMs: 1_000,
  // A suspicion others have already gossiped this many times is not repeated: with 10 nodes
  // watching one failure, a couple of messages, not ten.
  enoughGossiped: 2,
  // What one asker may ask of a node's check service (each request costs a ping).
  checkBudget: { burst: 20, ratePerSec: 10, maxPeers: 4_096 },
  // Lifeguard's local health (memberlist's awareness): timeouts stretch up to maxScore times;
  // an event-loop stall over slowLoopShare of the check timeout within a beat counts against
  // us; the score falls by one each recoverBeats beats without a new sign (and at each answer).
  health: { maxScore: 8, slowLoopShare: 0.5, recoverBeats: 2 }
} as const

/**
 * What the log service lets each peer do (one peer once rotated the whole history away in 2 s).
 * A busy service logs a few KiB a second; these are a hundred times that.
 */
export const LOG_LIMITS = {
  // Enough to flush a full 10,000-entry shipper buffer within seconds of a log service coming up.
  peerBytesPerSec: 256 * 1024,
  // Two of the shipper's largest batches (512 KiB each) at once.
  peerBurstBytes: 1024 * 1024,
  // Each batch is one fsync: charging it at least 4 KiB caps one peer at ~64 fsyncs a second.
  minBatchCost: 4 * 1024,
  // One peer's entries may fill at most a quarter of what the log keeps, so three quarters of the
  // history are everyone else's however loud one peer is.
  peerShare: 0.25,
  // Peers whose rate is tracked at once (the least spent are forgotten first).
  maxPeers: 4_096,
  // A sender's own time is kept as `sentAt` only within this much of the log's clock: entries
  // buffered while no log service was up are still within it; a clock off by days is not.
  maxSentAtAgeMs: 60 * 60_000,
  maxSentAtAheadMs: 60_000,
  // Scans (queries, the past of a follow) reading the files at once; more are refused as busy.
  maxScans: 8,
  // Of those, one peer's: a reader that stops reading holds its scans, not everyone's.
  maxScansPerPeer: 2
} as const

/** The per-user state directory (XDG), where nodes keep keys and data by default. */
export function stateDir (env: NodeJS.ProcessEnv = process.env): string {
  if (env.GDS_HOME !== undefined && env.GDS_HOME !== '') return resolve(env.GDS_HOME)
  const xdg = env.XDG_STATE_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.local', 'state'), 'gds')
}

/** The per-user cache directory (XDG): what makes the CLI start faster (the client's compiled code), safe to delete. */
export function cacheDir (env: NodeJS.ProcessEnv = process.env): string {
  if (env.GDS_HOME !== undefined && env.GDS_HOME !== '') return join(resolve(env.GDS_HOME), 'cache')
  const xdg = env.XDG_CACHE_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'gds')
}

/** A token that is also a valid cookie value (RFC 6265 cookie-octet), long enough not to be guessed. */
export const HTTP_TOKEN_PATTERN = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{16,256}$/
/** Set by `gds cluster up` on each member it starts, which it holds by the stdin pipe (src/cli/signals.ts). */
export const SUPERVISED_ENV = 'GDS_SUPERVISED'

/**
 * Peers a command learnt from the registry's answers, remembered in `<stateDir>/known-peers.json`
 * so that a later `gds call`, `grades` or `logs` reaches the cluster through them while no registry
 * answers (src/node/known-peers.ts).
 */
export const KNOWN_PEERS = {
  file: 'known-peers.json',
  // Per registry list (each cluster its own entry): newest first, enough that one is still alive.
  perRegistry: 8,
  // Clusters remembered; the least recently used goes first.
  registries: 16,
  // Tried in turn before giving up: a dead local peer refuses at once, a gone host costs a timeout.
  tried: 4,
  // A file larger than this is not ours (16 × 8 addresses of at most 1 KiB fit well within it).
  maxFileBytes: 256 * 1024
} as const

/** Where `gds cluster up` keeps its members' data (and cluster.json) by default. */
export function clusterDir (env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'cluster')
}

export type ConfigInput = Partial<GdsConfig> & { role: string }

export function createConfig (input: ConfigInput, env: NodeJS.ProcessEnv = process.env): GdsConfig {
  const isRegistry = input.role === 'registry'
  const name = input.name ?? (isRegistry ? 'registry' : defaultName(input.role))
  const config: GdsConfig = {
    ...DEFAULT_TIMINGS,
    registry: env.GDS_REGISTRY ?? DEFAULT_REGISTRY_ADDR,
    listen: [isRegistry ? `/ip4/0.0.0.0/tcp/${REGISTRY_PORT}` : '/ip4/0.0.0.0/tcp/0'],
    requires: [],
    bootstrap: [],
    meshDegree: 4,
    logLevel: 'warn',
    httpPort: DEFAULT_HTTP_PORT,
    httpHost: DEFAULT_HTTP_HOST,
    maxEntries: DEFAULT_MAX_ENTRIES,
    dataDir: join(stateDir(env), name),
    ...stripUndefined(input),
    role: input.role,
    name
  }
  if (config.listen.length === 0) config.listen = isRegistry ? [`/ip4/0.0.0.0/tcp/${REGISTRY_PORT}`] : ['/ip4/0.0.0.0/tcp/0']
  config.dataDir = resolve(config.dataDir)
  config.requires = [...new Set(config.requires)]
  validateConfig(config)
  return config
}

/** Throws InvalidConfigError stating the rule that was broken. */
export function validateConfig (c: GdsConfig): void {
  const positive = ['heartbeatIntervalMs', 'heartbeatTimeoutMs', 'reapAfterMs', 'reconnectMinMs', 'reconnectMaxMs', 'homeCheckMs'] as const
  for (const k of positive) {
    if (!Number.isFinite(c[k]) || c[k] <= 0) throw new InvalidConfigError(`${k} must be a positive number of milliseconds (got ${c[k]})`)
  }
  if (c.heartbeatTimeoutMs >= c.heartbeatIntervalMs) {
    throw new InvalidConfigError(`the heartbeat timeout (${c.heartbeatTimeoutMs} ms) must be shorter than the heartbeat interval (${c.heartbeatIntervalMs} ms)`)
  }
  if (!Number.isInteger(c.failureThreshold) || c.failureThreshold < 1 || c.failureThreshold > 100) {
    throw new InvalidConfigError(`failure threshold must be a whole number from 1 to 100 (got ${c.failureThreshold})`)
  }
  if (!Number.isInteger(c.meshDegree) || c.meshDegree < 0 || c.meshDegree > 64) throw new InvalidConfigError(`mesh degree must be a whole number from 0 to 64 (got ${c.meshDegree})`)
  if (!Number.isInteger(c.httpPort) || c.httpPort < 0 || c.httpPort > 65535) throw new InvalidConfigError(`--http-port must be a port number from 0 to 65535 (got ${c.httpPort})`)
  if (isIP(c.httpHost) === 0 && c.httpHost !== 'localhost') throw new InvalidConfigError(`--http-host must be an IP address such as 127.0.0.1 or 0.0.0.0, or localhost (got "${c.httpHost}")`)
  if (c.httpToken !== undefined && !HTTP_TOKEN_PATTERN.test(c.httpToken)) {
    throw new InvalidConfigError('--http-token must be 16 to 256 printable ASCII characters without spaces, quotes, commas, semicolons or backslashes')
  }
  if (!Number.isInteger(c.maxEntries) || c.maxEntries < 1 || c.maxEntries > MAX_MAX_ENTRIES) throw new InvalidConfigError(`--max-entries must be a whole number from 1 to ${MAX_MAX_ENTRIES} (got ${c.maxEntries})`)
  if (c.httpCompat !== undefined) {
    parseHostPort(c.httpCompat)
    if (c.role !== 'registry' && c.role !== 'log') throw new InvalidConfigError(`--http-compat (GDS_HTTP_COMPAT) is for the registry and log roles, not ${c.role}`)
  }
  if (c.store !== undefined) {
    parseStoreUrl(c.store)
    if (c.role !== 'registry') throw new InvalidConfigError(`--store (GDS_STORE) is for the registry role, not ${c.role}`)
  }
  if (c.reconnectMinMs > c.reconnectMaxMs) throw new InvalidConfigError('reconnectMinMs must not exceed reconnectMaxMs')
  for (const n of [c.name, ...c.requires]) {
    if (!SERVICE_NAME_PATTERN.test(n)) {
      throw new InvalidConfigError(`"${n}" is not a valid service name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`)
    }
  }
  if (c.requires.includes(c.name) && c.role !== 'registry') throw new InvalidConfigError(`service "${c.name}" cannot require itself`)
}

/**
 * "HOST:PORT", "[IPv6]:PORT", ":PORT" or "PORT". Without a host it is 127.0.0.1, not every
 * interface as in Go: a listener beyond loopback is asked for by name (0.0.0.0:3000).
 */
export function parseHostPort (text: string): { host: string, port: number } {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text.trim())
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new InvalidConfigError(`--http-compat takes HOST:PORT or PORT, such as 127.0.0.1:3000 (got "${text}")`)
  const host = m[1] ?? m[2] ?? ''
  return { host: host === '' ? '127.0.0.1' : host, port }
}

/** `etcd://HOST:PORT[,HOST:PORT...]` → its endpoints as HOST:PORT. */
export function parseStoreUrl (text: string): { kind: 'etcd', hosts: string[] } {
  const m = /^etcd:\/\/(.+)$/.exec(text.trim())
  const hosts = m === null ? [] : m[1].split(',').map(h => h.trim())
  const valid = hosts.length > 0 && hosts.length <= 16 && hosts.every(h => /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/.test(h) && Number(h.slice(h.lastIndexOf(':') + 1)) <= 65535)
  if (!valid) throw new InvalidConfigError(`--store takes etcd://HOST:PORT[,HOST:PORT...], such as etcd://127.0.0.1:2379 (got "${text}")`)
  return { kind: 'etcd', hosts }
}

function defaultName (role: string): string {
  // A module path such as ./svc/notifier.js → "notifier".
  const base = role.split(/[\\/]/).pop() ?? role
  return base.replace(/\.(m?js|cjs|ts)$/, '').toLowerCase()
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
