import { Args, Flags } from '@oclif/core'
import { GdsCommand } from '../../cli/base.js'
import { registryFlags } from '../../cli/flags.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import { GRADE_TYPES, type Grade } from '../../services/grading/store.js'

/** The grade, and whose (the JSON is the grade alone). */
interface Added { studentId: number, grade: Grade }

export default class GradesAdd extends GdsCommand<Added> {
  static override summary = 'Add a grade to a student.'
  static override description = 'Stored (and acknowledged) only once it is on disk. Not retried after a timeout, so it is never added twice.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3 --title "Quiz 2" --type quiz --score 91']
  static override args = { id: Args.integer({ description: 'Student id.', required: true, min: 1 }) }
  static override flags = {
    ...registryFlags,
    title: Flags.string({ char: 't', description: 'What was graded.', required: true }),
    type: Flags.string({ description: 'Kind of grade.', required: true, options: [...GRADE_TYPES] }),
    score: Flags.integer({ description: 'Score from 0 to 100.', required: true, min: 0, max: 100 })
  }

  async run (): Promise<Added> {
    const { args, flags } = await this.parse(GradesAdd)
    const grade = await withClient(flags, async c => callGrading<Grade>(c, 'addGrade', { studentId: args.id, title: flags.title, type: flags.type, score: flags.score }, false))
    return { studentId: args.id, grade }
  }

  protected override toJson ({ grade }: Added): Grade {
    return grade
  }

  protected override render ({ studentId, grade }: Added): string {
    return `added grade ${grade.id} to student ${studentId}: ${grade.title} (${grade.type}) ${grade.score}`
  }
}
