import { Args } from '@oclif/core'
import { GdsCommand, registryFlags } from '../../cli/base.js'
import { callGrading, studentView } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import type { Student } from '../../services/grading/store.js'

export default class GradesShow extends GdsCommand {
  static override summary = 'Show one student with every grade.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3']
  static override args = { id: Args.integer({ description: 'Student id.', required: true, min: 1 }) }
  static override flags = { ...registryFlags }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(GradesShow)
    const student = await withClient(flags, async c => callGrading<Student>(c, 'getStudent', { id: args.id }, true))
    this.log(flags.json ? JSON.stringify(student) : studentView(student))
  }
}
