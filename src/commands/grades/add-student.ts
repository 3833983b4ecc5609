import * as Args from '@oclif/core/args'
import { GdsCommand } from '../../cli/base.js'
import { peerFlags, registryFlags } from '../../cli/flags.js'
import { callGrading } from '../../cli/grading.js'
import { withClient } from '../../cli/with-client.js'
import type { Student } from '../../services/grading/store.js'

export default class GradesAddStudent extends GdsCommand<Student> {
  static override summary = 'Add a new student.'
  static override description = 'Prints the new student\'s id, which the other grades commands take. Not retried after a timeout, so it is never added twice.'
  static override examples = ['<%= config.bin %> <%= command.id %> Ada Lovelace', '<%= config.bin %> <%= command.id %> "Mary Ann" Evans --json']
  static override args = {
    first: Args.string({ description: 'First name (at most 64 characters).', required: true }),
    last: Args.string({ description: 'Last name (at most 64 characters).', required: true })
  }

  static override flags = { ...registryFlags, ...peerFlags }

  async run (): Promise<Student> {
    const { args, flags } = await this.parse(GradesAddStudent)
    return withClient(flags, async c => callGrading<Student>(c, 'addStudent', { firstName: args.first, lastName: args.last }, false))
  }

  protected override render (s: Student): string {
    return `added student ${s.id}: ${s.firstName} ${s.lastName}`
  }
}
