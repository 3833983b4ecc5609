import { Flags } from '@oclif/core'
import { GdsCommand } from '../cli/base.js'
import { registryFlags } from '../cli/flags.js'
import type { Feed } from '../cli/output.js'
import { statusView, toStatusJson, type StatusJson } from '../cli/status.js'
import { watchFeed } from '../cli/watch.js'
import { withClient } from '../cli/with-client.js'
import type { ListResult, WatchMessage } from '../node/schemas.js'

export default class Status extends GdsCommand<ListResult | Feed<WatchMessage>> {
  static override summary = 'Show the cluster catalogue: every registered service, its status and health.'
  static override description = 'Asks the registry for its catalogue. Exit code 2 when the registry cannot be reached.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json | jq ".services[] | select(.status != \\"up\\")"',
    '<%= config.bin %> <%= command.id %> --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...',
    '<%= config.bin %> <%= command.id %> --peer /ip4/10.0.0.7/tcp/41234/p2p/12D3KooW...   # while the registry is down'
  ]

  static override flags = {
    ...registryFlags,
    timeout: Flags.integer({ description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' }),
    peer: Flags.string({ char: 'p', description: 'Ask this node (any peer, not the registry) for its own view of the catalogue: works while the registry is down.', helpValue: 'MULTIADDR', exclusive: ['watch'] }),
    watch: Flags.boolean({ char: 'w', description: 'Follow the cluster live: a full-screen view on a terminal, one line per event when piped (--json: one watch message per line).', default: false })
  }

  async run (): Promise<ListResult | Feed<WatchMessage>> {
    const { flags } = await this.parse(Status)
    if (flags.watch) return watchFeed({ ...flags, timeoutMs: flags.timeout }, this.jsonEnabled())
    return withClient({ ...flags, registry: flags.peer ?? flags.registry, timeoutMs: flags.timeout }, async client => client.list())
  }

  protected override toJson (list: ListResult): StatusJson {
    return toStatusJson(list)
  }

  protected override render (list: ListResult): string {
    return statusView(list, Date.now())
  }
}
