// A small real service: "notifications" finds students at risk (average below a threshold)
// by calling the grading service, and logs what it found to the cluster log.
// Run it: gds node start --role ./notifications.js
import { defineMethod, defineService, NotFoundError } from 'gds'
import { z } from 'zod'

let ctx

export default defineService({
  name: 'notifications',
  version: '1.0.0',
  requires: ['grading', 'log'],
  methods: {
    // Which students are below `below` on average?
    atRisk: defineMethod({
      params: z.object({ below: z.number().min(0).max(100).default(70) }),
      idempotent: true,
      async handler ({ below }) {
        const students = await ctx.call('grading', 'listStudents', {}, { idempotent: true })
        const atRisk = students.filter(s => s.average !== null && s.average < below)
          .map(s => ({ id: s.id, name: `${s.firstName} ${s.lastName}`, average: s.average }))
        ctx.log.info({ below, count: atRisk.length }, 'at-risk report')
        return { below, students: atRisk }
      }
    }),
    // A note to one student; refuses students that do not exist.
    notify: defineMethod({
      params: z.object({ studentId: z.number().int().positive(), message: z.string().min(1).max(500) }),
      async handler ({ studentId, message }) {
        const s = await ctx.call('grading', 'getStudent', { id: studentId }, { idempotent: true })
          .catch(err => { throw err.code === 'NOT_FOUND' ? new NotFoundError(`no student ${studentId} to notify`) : err })
        ctx.log.info({ studentId, message }, `notified ${s.firstName} ${s.lastName}`)
        return { sent: true, to: `${s.firstName} ${s.lastName}` }
      }
    })
  },
  start (context) { ctx = context }
})
