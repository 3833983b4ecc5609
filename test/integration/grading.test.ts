import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { gradingService } from '../../src/services/grading/index.js'
import { methodOf, type ServiceDefinition } from '../../src/node/service.js'
import { GradeStore, type Student, type StudentSummary } from '../../src/services/grading/store.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { runCli } from '../helpers/cli.js'

/** Every raw character a terminal would act on (newline aside: output has lines). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

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

  it('gds grades (a real CLI process) refuses names and titles with control characters: exit 1, one readable line, nothing stored', async () => {
    const { registry, caller } = await setup()
    const addr = pickAddr(registry.addrs)
    const before = await caller.call<StudentSummary[]>('grading', 'listStudents', {})
    const name = await runCli(['grades', 'add-student', 'Bob\x1b]0;owned\x07', 'Evil', '--registry', addr])
    expect(name.code, name.stderr).toBe(1)
    expect(name.stderr.trim().split('\n')).toHaveLength(1)
    expect(name.stderr).toContain('a name cannot contain control characters (found \\x1b); use printable text')
    expect(RAW.test(name.stderr)).toBe(false)
    const title = await runCli(['grades', 'add', '1', '--title', 'Quiz\u202e1', '--type', 'quiz', '--score', '5', '--json', '--registry', addr])
    expect(title.code).toBe(1)
    expect(JSON.parse(title.stdout).error).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('a title cannot contain control characters (found \\u202e)') })
    expect(await caller.call<StudentSummary[]>('grading', 'listStudents', {})).toEqual(before)
    expect((await caller.call<any>('grading', 'getStudent', { id: 1 })).grades).toHaveLength(3)
  })

  it('gds grades prints names stored before the rule as visible escapes, in tables and lines; --json keeps them exact', async () => {
    const { registry, dbPath } = await setup()
    const addr = pickAddr(registry.addrs)
    // Data written before input was checked (or by another writer of the database).
    const store = new GradeStore(dbPath)
    const evil = 'Eve\x1b[2J\x1b]0;owned\x07\u202e\r\nforged line'
    const { id } = store.addStudent(evil, 'Smith')
    store.addGrade(id, `Quiz\x9b31m${evil}`, 'quiz', 80)
    store.close()
    const list = await runCli(['grades', 'list', '--registry', addr])
    expect(list.code, list.stderr).toBe(0)
    expect(RAW.test(list.stdout)).toBe(false)
    expect(list.stdout).toContain('Eve\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x0d\\x0aforged line Smith')
    // One line per student plus the header: the newline in the name did not add one.
    expect(list.stdout.trim().split('\n')).toHaveLength(7)
    const show = await runCli(['grades', 'show', String(id), '--registry', addr])
    expect(show.code, show.stderr).toBe(0)
    expect(RAW.test(show.stdout)).toBe(false)
    expect(show.stdout.split('\n')[0]).toContain('Eve\\x1b[2J')
    expect(show.stdout).toContain('Quiz\\x9b31m')
    const json = await runCli(['grades', 'show', String(id), '--json', '--registry', addr])
    expect(RAW.test(json.stdout)).toBe(false)
    expect(JSON.parse(json.stdout)).toMatchObject({ firstName: evil, grades: [{ title: `Quiz\x9b31m${evil}` }] })
  })
})
