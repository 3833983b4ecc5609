import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../cli/base.js'
import { splitList } from '../cli/common-flags.js'
import { registryFlags } from '../cli/flags.js'
import { UsageError } from '../node/errors.js'
import type { Feed } from '../cli/output.js'
import { statusView, toStatusJson, type StatusFilter, type StatusJson } from '../cli/status.js'
import { withClient } from '../cli/with-client.js'
import { HEALTH_WORDS, type Health } from '../node/health.js'
import type { ListResult, WatchMessage } from '../node/schemas.js'

interface Listed { list: ListResult, filter: StatusFilter }

export default class Status extends GdsCommand<Listed | Feed<WatchMessage>> {
  static override summary = 'Show the cluster catalogue: every registered service, its status and health.'
  static override description = 'Asks the registry for its catalogue. Exit code 2 when the registry cannot be reached.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --status down,suspect',
    '<%= config.bin %> <%= command.id %> --service grading --json',
    '<%= config.bin %> <%= command.id %> --json | jq ".services[] | select(.health != \\"up\\")"',
    '<%= config.bin %> <%= command.id %> --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...',
    '<%= config.bin %> <%= command.id %> --peer /ip4/10.0.0.7/tcp/41234/p2p/12D3KooW...   # while the registry is down'
  ]

  static override flags = {
    ...registryFlags,
    timeout: Flags.integer({ description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' }),
    peer: Flags.string({ char: 'p', description: 'Ask this node (any peer, not the registry) for its own view of the catalogue: works while the registry is down.', helpValue: 'MULTIADDR', exclusive: ['watch'] }),
    service: Flags.string({ char: 's', description: 'Only this service name (repeat or comma-separate).', multiple: true, helpValue: 'NAME', exclusive: ['watch'] }),
    status: Flags.string({ description: `Only providers in this health (repeat or comma-separate): ${HEALTH_WORDS.join(', ')}. degraded: up, but a name it requires has no up provider.`, multiple: true, helpValue: 'WORD', exclusive: ['watch'] }),
    watch: Flags.boolean({ char: 'w', description: 'Follow the cluster live: a full-screen view on a terminal, one line per event when piped (--json: one watch message per line).', default: false })
  }

  async run (): Promise<Listed | Feed<WatchMessage>> {
    const { flags } = await this.parse(Status)
    const health = splitList(flags.status)
    const unknown = health.filter(h => !(HEALTH_WORDS as readonly string[]).includes(h))
    if (unknown.length > 0) throw new UsageError(`--status takes ${HEALTH_WORDS.join(', ')} (got "${unknown.join(', ')}")`)
    const filter = { services: splitList(flags.service), health: health as Health[] }
    if (flags.watch) {
      // Loaded only here: the watch view brings the wire schemas (zod, multiaddr) unbundled, about
      // a third of a one-shot `gds status`'s start-up; the list itself decodes in the bundled client.
      const { watchFeed } = await import('../cli/watch.js')
      return watchFeed({ ...flags, timeoutMs: flags.timeout }, this.jsonEnabled())
    }
    const list = await withClient({ ...flags, peer: flags.peer === undefined ? undefined : [flags.peer], timeoutMs: flags.timeout }, async client => client.list())
    return { list, filter }
  }

  protected override toJson ({ list, filter }: Listed): StatusJson {
    return toStatusJson(list, filter)
  }

  protected override render ({ list, filter }: Listed): string {
    return statusView(list, Date.now(), filter)
  }
}
