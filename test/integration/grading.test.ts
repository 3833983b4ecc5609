import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { gradingService } from '../../src/services/grading/index.js'
import { methodOf, type ServiceDefinition } from '../../src/node/service.js'
import type { Student, StudentSummary } from '../../src/services/grading/store.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** Wraps a definition so each instance counts the calls it served. */
function counted (def: ServiceDefinition, counter: { n: number }): ServiceDefinition {
  const methods = Object.fromEntries(Object.entries(def.methods ?? {}).map(([k, m]) => [k, methodOf(m)] as const).map(([k, m]) => [k, { ...m, handler: (p: any, c: any) => { counter.n++; return m.handler(p, c) } }]))
  return { ...def, methods }
}

describe('the grading role', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup () {
    const registry = await cluster.registry()
    await cluster.service(registry, 'log')
    const dbPath = join(await cluster.tempDir(), 'grading.db')
    const counts = [{ n: 0 }, { n: 0 }]
    const graders = [
      await cluster.service(registry, 'grading', ['log'], {}, [counted(gradingService({ dbPath }), counts[0])]),
      await cluster.service(registry, 'grading', ['log'], {}, [counted(gradingService({ dbPath }), counts[1])])
    ]
    const caller = await cluster.service(registry, 'teacher', ['grading'])
    await eventually(() => { expect(caller.catalog.providersOf('grading').filter(p => p.status === 'up')).toHaveLength(2) })
    return { registry, dbPath, counts, graders, caller }
  }

  it('is seeded once, and two instances sharing one database both serve (round-robin)', async () => {
    const { caller, counts } = await setup()
    const students = await caller.call<StudentSummary[]>('grading', 'listStudents', {})
    expect(students).toHaveLength(5)
    expect(students.find(s => s.lastName === 'Squarepants')).toMatchObject({ average: 94, gradeCount: 3 })
    const added = await caller.call<{ id: number }>('grading', 'addGrade', { studentId: 1, title: 'Quiz 2', type: 'quiz', score: 91 })
    for (let i = 0; i < 6; i++) {
      const s = await caller.call<Student>('grading', 'getStudent', { id: 1 })
      expect(s.grades.map(g => g.id)).toContain(added.id)
    }
    expect(counts[0].n).toBeGreaterThanOrEqual(1)
    expect(counts[1].n).toBeGreaterThanOrEqual(1)
  })

  it('refuses bad input with a typed error and changes nothing', async () => {
    const { caller } = await setup()
    const before = await caller.call('grading', 'listStudents', {})
    const bad: Array<[string, object, string]> = [
      ['addGrade', { studentId: 1, title: 'x', type: 'quiz', score: 140 }, 'INVALID_PARAMS'],
      ['addGrade', { studentId: 1, title: 'x', type: 'essay', score: 50 }, 'INVALID_PARAMS'],
      ['addGrade', { studentId: 1, title: 'x'.repeat(101), type: 'quiz', score: 50 }, 'INVALID_PARAMS'],
      ['addGrade', { studentId: 1, title: '  ', type: 'quiz', score: 50 }, 'INVALID_PARAMS'],
      ['addGrade', { studentId: 999, title: 'x', type: 'quiz', score: 50 }, 'NOT_FOUND'],
      ['getStudent', { id: 999 }, 'NOT_FOUND'],
      ['removeGrade', { studentId: 1, gradeId: 9999 }, 'NOT_FOUND'],
      ['addStudent', { firstName: '', lastName: 'x' }, 'INVALID_PARAMS']
    ]
    for (const [method, params, code] of bad) {
      await expect(caller.call('grading', method, params), `${method} ${JSON.stringify(params)}`).rejects.toMatchObject({ code })
    }
    const score = await caller.call('grading', 'addGrade', { studentId: 1, title: 'x', type: 'quiz', score: 140 }).catch(e => e.message)
    expect(score).toMatch(/at most 100/)
    expect(await caller.call('grading', 'listStudents', {})).toEqual(before)
  })

  it('grades survive a restart of the grading node', async () => {
    const { registry, dbPath, graders, caller } = await setup()
    const g = await caller.call<{ id: number }>('grading', 'addGrade', { studentId: 2, title: 'Exam', type: 'exam', score: 77 })
    await Promise.all(graders.map(async n => n.stop()))
    await cluster.service(registry, 'grading', ['log'], {}, [gradingService({ dbPath })])
    await eventually(async () => {
      const s = await caller.call<Student>('grading', 'getStudent', { id: 2 }, { idempotent: true })
      expect(s.grades.find(x => x.id === g.id)).toMatchObject({ title: 'Exam', score: 77 })
    }, 15_000)
  })

  it('keeps answering while one of two instances dies mid-traffic', async () => {
    const { graders, caller } = await setup()
    const calls: Array<Promise<unknown>> = []
    for (let i = 0; i < 100; i++) {
      calls.push(caller.call('grading', 'listStudents', {}, { idempotent: true }))
      if (i === 30) calls.push(Promise.resolve(graders[0].p2p.stop()))
      if (i % 10 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    const failed = (await Promise.allSettled(calls)).filter(r => r.status === 'rejected')
    expect(failed).toEqual([])
  })
})
