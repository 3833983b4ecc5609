import { Flags } from '@oclif/core'
import { GdsCommand, registryFlags } from '../cli/base.js'
import { watch } from './status.js'

export default class Top extends GdsCommand {
  static override summary = 'The cluster, live (same as gds status --watch).'
  static override description = 'Keys: ↑/↓ select, enter shows what the selected service requires and who provides it, f filters by name or status, s changes the sort, q quits.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...']
  static override flags = {
    ...registryFlags,
    timeout: Flags.integer({ description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Top)
    await watch({ registry: flags.registry, swarmKeyFile: flags['swarm-key'], timeoutMs: flags.timeout }, flags.json)
  }
}
