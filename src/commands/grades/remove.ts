import { Args } from '@oclif/core'
import { GdsCommand, registryFlags } from '../../cli/base.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'

export default class GradesRemove extends GdsCommand {
  static override summary = 'Remove one grade of a student.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3 12']
  static override args = {
    id: Args.integer({ description: 'Student id.', required: true, min: 1 }),
    grade: Args.integer({ description: 'Grade id (see gds grades show).', required: true, min: 1 })
  }

  static override flags = { ...registryFlags }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(GradesRemove)
    await withClient(flags, async c => callGrading(c, 'removeGrade', { studentId: args.id, gradeId: args.grade }, false))
    this.log(flags.json ? JSON.stringify({ removed: true }) : `removed grade ${args.grade} of student ${args.id}`)
  }
}
