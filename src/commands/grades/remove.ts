import * as Args from '@oclif/core/args'
import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'

interface Removed { studentId: number, gradeId: number }

export default class GradesRemove extends GdsCommand<Removed> {
  static override summary = 'Remove one grade of a student.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3 12']
  static override args = {
    id: Args.integer({ description: 'Student id.', required: true, min: 1 }),
    grade: Args.integer({ description: 'Grade id (see gds grades show).', required: true, min: 1 })
  }

  static override flags = { ...registryFlags, ...peerFlags }

  async run (): Promise<Removed> {
    const { args, flags } = await this.parse(GradesRemove)
    await withClient(flags, async c => callGrading(c, 'removeGrade', { studentId: args.id, gradeId: args.grade }, false))
    return { studentId: args.id, gradeId: args.grade }
  }

  protected override toJson (): { removed: true } {
    return { removed: true }
  }

  protected override render ({ studentId, gradeId }: Removed): string {
    return `removed grade ${gradeId} of student ${studentId}`
  }
}
