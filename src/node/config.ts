import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidConfigError } from './errors.js'
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
  /** Multiaddr of the registry, with `/p2p/<id>` to pin its identity. @default GDS_REGISTRY or /ip4/127.0.0.1/tcp/4001 */
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
  /** How long a probe may take before it counts as a miss. @default 500 */
  heartbeatTimeoutMs: number
  /** Consecutive misses before a provider is `down`. @default 2 */
  failureThreshold: number
  /** How long a `down` or `leaving` entry stays listed before it is removed. @default 60000 */
  reapAfterMs: number
  /** First delay before re-dialling a lost registry; doubles up to reconnectMaxMs, with jitter. @default 200 */
  reconnectMinMs: number
  /** @default 5000 */
  reconnectMaxMs: number
  /** grading: the SQLite file; instances on one host may share it (WAL). @default <dataDir>/grading.db */
  dbPath?: string
  /** webui: the HTTP port. @default 8080 */
  httpPort: number
  /** pino level for the stderr log. @default warn */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'
}

export const REGISTRY_PORT = 4001
export const DEFAULT_HTTP_PORT = 8080
export const DEFAULT_REGISTRY_ADDR = `/ip4/127.0.0.1/tcp/${REGISTRY_PORT}`

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
  reconnectMaxMs: 5_000
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
  reconnectMaxMs: 300
} as const

/** The per-user state directory (XDG), where nodes keep keys and data by default. */
export function stateDir (env: NodeJS.ProcessEnv = process.env): string {
  if (env.GDS_HOME !== undefined && env.GDS_HOME !== '') return resolve(env.GDS_HOME)
  const xdg = env.XDG_STATE_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.local', 'state'), 'gds')
}

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
  const positive = ['heartbeatIntervalMs', 'heartbeatTimeoutMs', 'reapAfterMs', 'reconnectMinMs', 'reconnectMaxMs'] as const
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
  if (c.reconnectMinMs > c.reconnectMaxMs) throw new InvalidConfigError('reconnectMinMs must not exceed reconnectMaxMs')
  for (const n of [c.name, ...c.requires]) {
    if (!SERVICE_NAME_PATTERN.test(n)) {
      throw new InvalidConfigError(`"${n}" is not a valid service name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`)
    }
  }
  if (c.requires.includes(c.name) && c.role !== 'registry') throw new InvalidConfigError(`service "${c.name}" cannot require itself`)
}

function defaultName (role: string): string {
  // A module path such as ./svc/notifier.js → "notifier".
  const base = role.split(/[\\/]/).pop() ?? role
  return base.replace(/\.(m?js|cjs|ts)$/, '').toLowerCase()
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
