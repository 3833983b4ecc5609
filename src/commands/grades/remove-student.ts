import * as Args from '@oclif/core/args'
import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'

export default class GradesRemoveStudent extends GdsCommand<{ studentId: number }> {
  static override summary = 'Remove a student and all of their grades.'
  static override examples = ['<%= config.bin %> <%= command.id %> 6']
  static override args = { id: Args.integer({ description: 'Student id (see gds grades list).', required: true, min: 1 }) }
  static override flags = { ...registryFlags, ...peerFlags }

  async run (): Promise<{ studentId: number }> {
    const { args, flags } = await this.parse(GradesRemoveStudent)
    await withClient(flags, async c => callGrading(c, 'removeStudent', { id: args.id }, false))
    return { studentId: args.id }
  }

  protected override toJson (): { removed: true } {
    return { removed: true }
  }

  protected override render ({ studentId }: { studentId: number }): string {
    return `removed student ${studentId} and their grades`
  }
}
