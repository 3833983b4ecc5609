import { z } from 'zod'
import { defineMethod, defineService, type ServiceContext, type ServiceDefinition } from '../../node/service.js'
import { NotStartedError } from '../../node/errors.js'
import { CONTROL_CHARS, firstControlChar } from '../../node/safe-text.js'
import { GRADE_TYPES, GradeStore } from './store.js'

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
/** Text a person typed, refused with control characters (they would act on every terminal that prints it). */
const printable = (schema: z.ZodString, what: string) => schema.refine(v => !CONTROL_CHARS.test(v), {
  error: iss => `${what} cannot contain control characters (found ${firstControlChar(String(iss.input)) ?? 'one'}); use printable text`
})
const name = printable(z.string().trim().min(1, 'a name cannot be empty').max(64, 'a name is at most 64 characters'), 'a name')

/** Params of every grading method: what the rpc server checks before a handler runs. */
export const gradingParams = {
  listStudents: z.strictObject({}),
  getStudent: z.strictObject({ id }),
  addStudent: z.strictObject({ firstName: name, lastName: name }),
  removeStudent: z.strictObject({ id }),
  addGrade: z.strictObject({
    studentId: id,
    title: printable(z.string().trim().min(1, 'a title cannot be empty').max(100, 'a title is at most 100 characters'), 'a title'),
    type: z.enum(GRADE_TYPES, { error: `the type is one of ${GRADE_TYPES.join(', ')}` }),
    score: z.number({ error: 'the score is a number' }).min(0, 'the score is at least 0').max(100, 'the score is at most 100')
  }),
  removeGrade: z.strictObject({ studentId: id, gradeId: id })
}

/**
 * The grading role (the seeds' domain): students with grades and averages, in SQLite. It
 * requires `log`, and logs every change (shipped to the cluster log).
 */
export function gradingService (opts: { dbPath: string }): ServiceDefinition {
  let store: GradeStore | undefined
  let log: ServiceContext['log'] | undefined
  const db = (): GradeStore => {
    if (store === undefined) throw new NotStartedError('grading is not started')
    return store
  }
  return defineService({
    name: 'grading',
    version: '1.0.0',
    requires: ['log'],
    methods: {
      listStudents: defineMethod({ params: gradingParams.listStudents, idempotent: true, handler: () => db().listStudents() }),
      getStudent: defineMethod({ params: gradingParams.getStudent, idempotent: true, handler: ({ id }) => db().getStudent(id) }),
      addStudent: defineMethod({
        params: gradingParams.addStudent,
        handler: ({ firstName, lastName }) => {
          const s = db().addStudent(firstName, lastName)
          log?.info({ studentId: s.id }, 'student added')
          return s
        }
      }),
      removeStudent: defineMethod({
        params: gradingParams.removeStudent,
        handler: ({ id }) => {
          db().removeStudent(id)
          log?.info({ studentId: id }, 'student removed')
          return { removed: true }
        }
      }),
      addGrade: defineMethod({
        params: gradingParams.addGrade,
        handler: ({ studentId, title, type, score }) => {
          const g = db().addGrade(studentId, title, type, score)
          log?.info({ studentId, gradeId: g.id, type, score }, 'grade added')
          return g
        }
      }),
      removeGrade: defineMethod({
        params: gradingParams.removeGrade,
        handler: ({ studentId, gradeId }) => {
          db().removeGrade(studentId, gradeId)
          log?.info({ studentId, gradeId }, 'grade removed')
          return { removed: true }
        }
      })
    },
    start: ctx => {
      log = ctx.log.child({ component: 'grading' })
      store = new GradeStore(opts.dbPath)
    },
    stop: () => {
      store?.close()
      store = undefined
    }
  })
}
