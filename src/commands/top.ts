import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../cli/base.js'
import { registryFlags } from '../cli/flags.js'
import type { Feed } from '../cli/output.js'
import { watchFeed } from '../cli/watch.js'
import type { WatchMessage } from '../node/schemas.js'

export default class Top extends GdsCommand<Feed<WatchMessage>> {
  static override summary = 'The cluster, live (same as gds status --watch).'
  static override description = 'Keys: ↑/↓ select, enter shows what the selected service requires and who provides it, f filters by name or status, s changes the sort, q quits.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...']
  static override flags = {
    ...registryFlags,
    timeout: Flags.integer({ description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' })
  }

  async run (): Promise<Feed<WatchMessage>> {
    const { flags } = await this.parse(Top)
    return watchFeed({ ...flags, timeoutMs: flags.timeout, askRemembered: false }, this.jsonEnabled())
  }
}
