import { GdsCommand } from '../../cli/base.js'
import { NODE_START_FLAGS, nodeStartFeed } from '../../cli/node-start.js'
import { oclifFlags } from '../../cli/oclif-flags.js'
import type { Feed } from '../../cli/output.js'
import type { TimedEvent } from '../../node/events.js'

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

  // The flags are NODE_START_FLAGS: bin/run.js reads them without oclif for a node that runs on (src/cli/lean.ts).
  static override flags = oclifFlags(NODE_START_FLAGS)

  async run (): Promise<Feed<TimedEvent>> {
    const { flags } = await this.parse(NodeStart)
    return nodeStartFeed(flags, this.jsonEnabled())
  }
}
