import * as Args from '@oclif/core/args'
import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading, studentView } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import type { Student } from '../../services/grading/store.js'

export default class GradesShow extends GdsCommand<Student> {
  static override summary = 'Show one student with every grade.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3']
  static override args = { id: Args.integer({ description: 'Student id.', required: true, min: 1 }) }
  static override flags = { ...registryFlags, ...peerFlags }

  async run (): Promise<Student> {
    const { args, flags } = await this.parse(GradesShow)
    return withClient(flags, async c => callGrading<Student>(c, 'getStudent', { id: args.id }, true))
  }

  protected override render (student: Student): string {
    return studentView(student)
  }
}
