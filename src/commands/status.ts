import { GdsCommand } from '../cli/base.js'
import { oclifFlags } from '../cli/oclif-flags.js'
import type { Feed } from '../cli/output.js'
import type { StatusJson } from '../cli/status.js'
import { printedStatus, status, STATUS_FLAGS, type Listed } from '../cli/status-command.js'
import type { WatchMessage } from '../node/schemas.js'

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

  // The flags are STATUS_FLAGS: bin/run.js reads them without oclif (src/cli/lean.ts).
  static override flags = oclifFlags(STATUS_FLAGS)

  async run (): Promise<Listed | Feed<WatchMessage>> {
    const { flags } = await this.parse(Status)
    return status(flags, this.jsonEnabled())
  }

  protected override toJson (listed: Listed): StatusJson {
    return printedStatus(listed).json
  }

  protected override render (listed: Listed): string {
    return printedStatus(listed).text()
  }
}
