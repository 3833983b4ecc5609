import { Args } from '@oclif/core'
import { GdsCommand, registryFlags } from '../../cli/base.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'

export default class GradesRemoveStudent extends GdsCommand {
  static override summary = 'Remove a student and all of their grades.'
  static override examples = ['<%= config.bin %> <%= command.id %> 6']
  static override args = { id: Args.integer({ description: 'Student id (see gds grades list).', required: true, min: 1 }) }
  static override flags = { ...registryFlags }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(GradesRemoveStudent)
    await withClient(flags, async c => callGrading(c, 'removeStudent', { id: args.id }, false))
    this.log(flags.json ? JSON.stringify({ removed: true }) : `removed student ${args.id} and their grades`)
  }
}
