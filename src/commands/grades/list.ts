import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading, studentsTable } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import type { StudentSummary } from '../../services/grading/store.js'

export default class GradesList extends GdsCommand<StudentSummary[]> {
  static override summary = 'List students with their averages.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override flags = { ...registryFlags, ...peerFlags }

  async run (): Promise<StudentSummary[]> {
    const { flags } = await this.parse(GradesList)
    return withClient(flags, async c => callGrading<StudentSummary[]>(c, 'listStudents', {}, true))
  }

  protected override render (students: StudentSummary[]): string {
    return studentsTable(students)
  }
}
