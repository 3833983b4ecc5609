import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import { gradingParams } from '../../services/grading/index.js'
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
    ...peerFlags,
    title: Flags.string({ char: 't', description: 'What was graded.', required: true }),
    type: Flags.string({ description: 'Kind of grade.', required: true, options: [...GRADE_TYPES] }),
    // One rule with the portal: the grading service's own schema parses the flag.
    score: Flags.custom<number>({
      description: 'Score from 0 to 100 (decimals allowed, e.g. 91.5).',
      required: true,
      helpValue: 'SCORE',
      parse: async (input: string) => {
        const n = input.trim() === '' ? Number.NaN : Number(input)
        const r = gradingParams.addGrade.shape.score.safeParse(Number.isFinite(n) ? n : input)
        if (!r.success) throw new Error(`${r.error.issues[0]?.message ?? 'the score is a number'} (got ${input})`)
        return r.data
      }
    })()
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
