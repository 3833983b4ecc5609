import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { loadRuntime } from '../../cli/client-loader.js'
import { registryFlags, registryText, splitList } from '../../cli/flags.js'
import { formatEvent } from '../../cli/format.js'
import { Feed } from '../../cli/output.js'
import { stopOnSignal, stopWithSupervisor } from '../../cli/signals.js'
import { createConfig, DEFAULT_HTTP_HOST, DEFAULT_MAX_ENTRIES, DEFAULT_TIMINGS, MAX_MAX_ENTRIES } from '../../node/config.js'
import type { TimedEvent } from '../../node/events.js'
import { BUILT_IN_ROLES } from '../../services/roles.js'

export default class NodeStart extends GdsCommand<Feed<TimedEvent>> {
  static override summary = 'Start a gds node: the registry hub, a built-in role, or your own service module.'
  static override description = `Every node is a libp2p peer on TCP. The registry is the hub: services register with it, it probes
them every --heartbeat-interval and tells each dependent when a provider it requires comes or goes.
A service that requires a name nobody provides yet starts degraded and is told when one appears.

Human output is one line per event; with --json, stdout carries one JSON event per line
(the first is {"event":"listening",...}) and logs go to stderr. Ctrl-C stops gracefully
(deregisters first); a second Ctrl-C exits at once.`

  static override examples = [
    { description: 'Start the registry (listens on tcp/4001)', command: '<%= config.bin %> <%= command.id %> --role registry' },
    { description: 'A named service that needs "log"', command: '<%= config.bin %> <%= command.id %> --role service --name demo --requires log' },
    { description: 'Join a registry on another machine, pinning its identity', command: '<%= config.bin %> <%= command.id %> --role service --name demo --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...' },
    { description: 'A registry the services of the original Go registry join unchanged', command: '<%= config.bin %> <%= command.id %> --role registry --http-compat 127.0.0.1:3000' },
    { description: 'Your own service module', command: '<%= config.bin %> <%= command.id %> --role ./my-service.js' }
  ]

  static override flags = {
    ...registryFlags,
    role: Flags.string({ description: `${BUILT_IN_ROLES.join(', ')}, or a path to a module that default-exports defineService(...).`, required: true, helpValue: 'ROLE' }),
    name: Flags.string({ char: 'n', description: 'Name to register under (role service). [default: the role]', helpValue: 'NAME' }),
    requires: Flags.string({ description: 'Service names this node needs (repeat or comma-separate).', multiple: true, helpValue: 'NAME' }),
    listen: Flags.string({ char: 'l', description: 'Multiaddr to listen on (repeatable). [default: registry /ip4/0.0.0.0/tcp/4001, others /ip4/0.0.0.0/tcp/0]', multiple: true, helpValue: 'MULTIADDR' }),
    'data-dir': Flags.string({ char: 'd', env: 'GDS_DATA_DIR', description: 'Where the identity key and role data live. [default: $XDG_STATE_HOME/gds/<name>]', helpValue: 'DIR' }),
    'heartbeat-interval': Flags.integer({ description: `ms between heartbeats: a provider pushes a beat this often, the registry probes one whose beat is late (give both the same value). [default: ${DEFAULT_TIMINGS.heartbeatIntervalMs}]`, min: 10, helpValue: 'MS' }),
    'heartbeat-timeout': Flags.integer({ description: `Registry: ms a probe may take before it counts as a miss. [default: ${DEFAULT_TIMINGS.heartbeatTimeoutMs}]`, min: 5, helpValue: 'MS' }),
    'failure-threshold': Flags.integer({ description: `Registry: consecutive misses before a provider is down. [default: ${DEFAULT_TIMINGS.failureThreshold}]`, min: 1, max: 100, helpValue: 'N' }),
    'reap-after': Flags.integer({ description: `ms a down or departed entry stays listed. [default: ${DEFAULT_TIMINGS.reapAfterMs}]`, min: 100, helpValue: 'MS' }),
    bootstrap: Flags.string({ char: 'b', description: 'Multiaddr of any peer to join the gossip mesh through (repeatable); works while the registry is away.', multiple: true, helpValue: 'MULTIADDR' }),
    'mesh-degree': Flags.integer({ description: 'Connections to keep to random non-registry peers, so gossip survives the registry. [default: 4]', min: 0, max: 64, helpValue: 'N' }),
    db: Flags.string({ description: 'grading: the SQLite database file; instances on one machine may share it. [default: <data dir>/grading.db]', helpValue: 'FILE' }),
    'http-port': Flags.integer({ description: 'webui: the HTTP port (0 picks a free one). [default: 8080]', min: 0, max: 65535, helpValue: 'PORT' }),
    'http-host': Flags.string({ env: 'GDS_HTTP_HOST', description: `webui: the address to bind; beyond loopback a token is required. [default: ${DEFAULT_HTTP_HOST}]`, helpValue: 'ADDRESS' }),
    'http-token': Flags.string({ env: 'GDS_HTTP_TOKEN', description: 'webui: the sign-in token (16+ characters); beyond loopback one is generated into the data dir and printed if not given. [default: none on loopback]', helpValue: 'TOKEN' }),
    'http-compat': Flags.string({ env: 'GDS_HTTP_COMPAT', description: 'registry: also serve the original Go registry\'s HTTP API (POST/DELETE /services) here; log: also take the Go services\' POST /log. PORT alone binds 127.0.0.1.', helpValue: 'HOST:PORT' }),
    store: Flags.string({ env: 'GDS_STORE', description: 'Registry: keep the catalogue in etcd, shared by every registry given the same store. [default: catalog.json in the data dir]', helpValue: 'etcd://HOST:PORT[,HOST:PORT]' }),
    acl: Flags.string({ env: 'GDS_ACL', description: 'Registry: JSON file mapping a service name (or "*") to the peer ids (or "*") allowed to provide it. [default: open]', helpValue: 'FILE' }),
    'max-entries': Flags.integer({ env: 'GDS_MAX_ENTRIES', description: `Catalogue entries at most: the registry refuses new registrations beyond it, other nodes drop gossip beyond it. [default: ${DEFAULT_MAX_ENTRIES}]`, min: 1, max: MAX_MAX_ENTRIES, helpValue: 'N' }),
    'log-level': Flags.string({ env: 'GDS_LOG_LEVEL', description: 'Level of the JSON log on stderr.', options: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], default: 'warn' })
  }

  async run (): Promise<Feed<TimedEvent>> {
    const { flags } = await this.parse(NodeStart)
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
    const log = createLogger(config.logLevel, { role: config.role, name: config.name }, logTap, { human: !this.jsonEnabled() })
    const node = new GdsNode({ config, ...await resolveRole(config), log, logTap })
    // The node's events, one line each, until a signal has stopped it.
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
}
