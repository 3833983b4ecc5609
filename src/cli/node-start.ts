import type { FlagSpecs, FlagValues } from './argv.js'
import { loadRuntime } from './client-loader.js'
import { REGISTRY_FLAGS, registryText, splitList } from './common-flags.js'
import { formatEvent } from './format.js'
import type { LeanCommand } from './lean.js'
import { Feed } from './output.js'
import { stopOnSignal, stopWithSupervisor } from './signals.js'
import { createConfig, DEFAULT_HTTP_HOST, DEFAULT_MAX_ENTRIES, DEFAULT_TIMINGS, MAX_MAX_ENTRIES } from '../node/config.js'
import type { TimedEvent } from '../node/events.js'
import { BUILT_IN_ROLES } from '../services/roles.js'

/**
 * `gds node start`'s flags, once: the command declares oclif's flags from them (its `--help`
 * and errors), and a long-running node reads its argv with them without oclif (lean.ts).
 */
export const NODE_START_FLAGS = {
  ...REGISTRY_FLAGS,
  role: { type: 'string', description: `${BUILT_IN_ROLES.join(', ')}, or a path to a module that default-exports defineService(...).`, required: true, helpValue: 'ROLE' },
  name: { type: 'string', char: 'n', description: 'Name to register under (role service). [default: the role]', helpValue: 'NAME' },
  requires: { type: 'string', description: 'Service names this node needs (repeat or comma-separate).', multiple: true, helpValue: 'NAME' },
  listen: { type: 'string', char: 'l', description: 'Multiaddr to listen on (repeatable). [default: registry /ip4/0.0.0.0/tcp/4001, others /ip4/0.0.0.0/tcp/0]', multiple: true, helpValue: 'MULTIADDR' },
  'data-dir': { type: 'string', char: 'd', env: 'GDS_DATA_DIR', description: 'Where the identity key and role data live. [default: $XDG_STATE_HOME/gds/<name>]', helpValue: 'DIR' },
  'heartbeat-interval': { type: 'integer', description: `ms between heartbeats: a provider pushes a beat this often, the registry probes one whose beat is late (give both the same value). [default: ${DEFAULT_TIMINGS.heartbeatIntervalMs}]`, min: 10, helpValue: 'MS' },
  'heartbeat-timeout': { type: 'integer', description: `Registry: ms a probe may take before it counts as a miss. [default: ${DEFAULT_TIMINGS.heartbeatTimeoutMs}]`, min: 5, helpValue: 'MS' },
  'failure-threshold': { type: 'integer', description: `Registry: consecutive misses before a provider is down. [default: ${DEFAULT_TIMINGS.failureThreshold}]`, min: 1, max: 100, helpValue: 'N' },
  'reap-after': { type: 'integer', description: `ms a down or departed entry stays listed. [default: ${DEFAULT_TIMINGS.reapAfterMs}]`, min: 100, helpValue: 'MS' },
  bootstrap: { type: 'string', char: 'b', description: 'Multiaddr of any peer to join the gossip mesh through (repeatable); works while the registry is away.', multiple: true, helpValue: 'MULTIADDR' },
  'mesh-degree': { type: 'integer', description: 'Connections to keep to random non-registry peers, so gossip survives the registry. [default: 4]', min: 0, max: 64, helpValue: 'N' },
  db: { type: 'string', description: 'grading: the SQLite database file; instances on one machine may share it. [default: <data dir>/grading.db]', helpValue: 'FILE' },
  'http-port': { type: 'integer', description: 'webui: the HTTP port (0 picks a free one). [default: 8080]', min: 0, max: 65535, helpValue: 'PORT' },
  'http-host': { type: 'string', env: 'GDS_HTTP_HOST', description: `webui: the address to bind; beyond loopback a token is required. [default: ${DEFAULT_HTTP_HOST}]`, helpValue: 'ADDRESS' },
  'http-token': { type: 'string', env: 'GDS_HTTP_TOKEN', description: 'webui: the sign-in token (16+ characters); beyond loopback one is generated into the data dir and printed if not given. [default: none on loopback]', helpValue: 'TOKEN' },
  'http-compat': { type: 'string', env: 'GDS_HTTP_COMPAT', description: 'registry: also serve the original Go registry\'s HTTP API (POST/DELETE /services) here; log: also take the Go services\' POST /log. PORT alone binds 127.0.0.1.', helpValue: 'HOST:PORT' },
  store: { type: 'string', env: 'GDS_STORE', description: 'Registry: keep the catalogue in etcd, shared by every registry given the same store. [default: catalog.json in the data dir]', helpValue: 'etcd://HOST:PORT[,HOST:PORT]' },
  acl: { type: 'string', env: 'GDS_ACL', description: 'Registry: JSON file mapping a service name (or "*") to the peer ids (or "*") allowed to provide it. [default: open]', helpValue: 'FILE' },
  'max-entries': { type: 'integer', env: 'GDS_MAX_ENTRIES', description: `Catalogue entries at most: the registry refuses new registrations beyond it; other nodes drop entries beyond it, but hold the providers of the names they require under a cap of their own, as large. [default: ${DEFAULT_MAX_ENTRIES}]`, min: 1, max: MAX_MAX_ENTRIES, helpValue: 'N' },
  'log-level': { type: 'string', env: 'GDS_LOG_LEVEL', description: 'Level of the JSON log on stderr.', options: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], default: 'warn' }
} as const satisfies FlagSpecs

export type NodeStartFlags = FlagValues<typeof NODE_START_FLAGS>

/** A node from its flags: its events, one line each (`json`: one JSON line each), until a signal has stopped it. */
export async function nodeStartFeed (flags: NodeStartFlags, json: boolean): Promise<Feed<TimedEvent>> {
  // Loaded here so `--help` and other commands do not load libp2p.
  const { GdsNode, resolveRole, createLogger, LogTap } = await loadRuntime()
  const config = createConfig({
    role: flags.role,
    name: flags.name,
    requires: splitList(flags.requires),
    registry: registryText(flags.registry),
    listen: flags.listen,
    dataDir: flags['data-dir'],
    swarmKeyFile: flags['swarm-key'],
    aclFile: flags.acl,
    httpCompat: flags['http-compat'],
    store: flags.store,
    heartbeatIntervalMs: flags['heartbeat-interval'],
    heartbeatTimeoutMs: flags['heartbeat-timeout'],
    failureThreshold: flags['failure-threshold'],
    reapAfterMs: flags['reap-after'],
    bootstrap: splitList(flags.bootstrap),
    meshDegree: flags['mesh-degree'],
    dbPath: flags.db,
    httpPort: flags['http-port'],
    httpHost: flags['http-host'],
    httpToken: flags['http-token'],
    maxEntries: flags['max-entries'],
    logLevel: flags['log-level'] as 'warn'
  })
  const logTap = new LogTap()
  const log = createLogger(config.logLevel, { role: config.role, name: config.name }, logTap, { human: !json })
  const node = new GdsNode({ config, ...await resolveRole(config), log, logTap })
  return new Feed(async emit => {
    node.on('event', emit)
    const stopped = stopOnSignal(async signal => node.stop(signal))
    const release = stopWithSupervisor()
    try {
      await node.start()
      // A refusal by the registry's access policy is final: the node has stopped; exit 1 with it.
      await Promise.race([stopped, node.failed])
    } finally {
      release()
    }
  }, formatEvent)
}

/** `gds node start` as bin/run.js runs it without oclif. */
export const NODE_START: LeanCommand<typeof NODE_START_FLAGS> = { flags: NODE_START_FLAGS, run: nodeStartFeed }
