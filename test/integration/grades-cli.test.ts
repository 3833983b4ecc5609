import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pickAddr } from '../../src/cli/format.js'
import { gradingService } from '../../src/services/grading/index.js'
import { GradeStore, type StudentSummary } from '../../src/services/grading/store.js'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { runCli } from '../helpers/cli.js'

/** Every raw character a terminal would act on. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

describe('gds grades and control characters (real CLI processes)', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup () {
    const registry = await cluster.registry()
    await cluster.service(registry, 'log')
    const dbPath = join(await cluster.tempDir(), 'grading.db')
    const grader = await cluster.service(registry, 'grading', ['log'], {}, [gradingService({ dbPath })])
    const caller = await cluster.service(registry, 'teacher', ['grading'])
    await eventually(() => { expect(caller.catalog.providersOf('grading').filter(p => p.status === 'up')).toHaveLength(1) })
    return { addr: pickAddr(registry.addrs), dbPath, grader, caller }
  }

  it('refuses names and titles with control characters: exit 1, one readable line, nothing stored', async () => {
    const { addr, caller } = await setup()
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

  it('prints names stored before the rule as visible escapes, in tables and lines; --json keeps them exact', async () => {
    const { addr, dbPath } = await setup()
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
