import { GdsCommand, registryFlags } from '../../cli/base.js'
import { callGrading, studentsTable } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import type { StudentSummary } from '../../services/grading/store.js'

export default class GradesList extends GdsCommand {
  static override summary = 'List students with their averages.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override flags = { ...registryFlags }

  async run (): Promise<void> {
    const { flags } = await this.parse(GradesList)
    const students = await withClient(flags, async c => callGrading<StudentSummary[]>(c, 'listStudents', {}, true))
    this.log(flags.json ? JSON.stringify(students) : studentsTable(students))
  }
}
