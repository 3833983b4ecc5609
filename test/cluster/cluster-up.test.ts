import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { isAlive } from '../../src/node/pid.js'
import { CLI_ENV, ROOT, runCli } from '../helpers/cli.js'

async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise(resolve => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

describe('gds cluster up (real processes)', () => {
  let child: ReturnType<typeof spawn> | undefined
  let dir = ''
  let events: any[] = []
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null) { child.kill('SIGKILL') }
    // A supervisor killed outright cannot stop its members: end each one it reported, by pid.
    for (const e of events) if (e.event === 'member-listening' && isAlive(e.pid)) process.kill(e.pid, 'SIGKILL')
    events = []
    if (dir !== '') await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  })

  it('starts registry, log and two grading instances; grades and logs work; a killed instance fails over; Ctrl-C stops all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-up-'))
    const httpPort = await freePort()
    child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'cluster', 'up', '--json', '--port', '0', '--grading', '2', '--http-port', String(httpPort), '--data-dir', dir], { env: CLI_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let wake = (): void => {}
    createInterface({ input: child.stdout! }).on('line', l => { try { events.push(JSON.parse(l)) } catch {} wake() })
    const exited = new Promise<number | null>(resolve => child!.on('exit', code => { resolve(code) }))
    const waitFor = async (match: (e: any) => boolean, label: string): Promise<any> => {
      const deadline = Date.now() + 30_000
      for (;;) {
        const e = events.find(match)
        if (e !== undefined) return e
        if (Date.now() > deadline || child!.exitCode !== null) throw new Error(`no ${label}; saw ${events.map(x => x.event).join(',')}`)
        await new Promise<void>(resolve => { const t = setTimeout(resolve, 200); wake = () => { clearTimeout(t); resolve() } })
      }
    }
    const up = await waitFor(e => e.event === 'cluster-up', 'cluster-up')
    const r = ['--registry', up.registry]
    const gradings = events.filter(e => e.event === 'member-listening' && e.role === 'grading')
    expect(gradings).toHaveLength(2)
    expect(up.web).toBe(`http://127.0.0.1:${httpPort}/`)
    let portal = ''
    for (let i = 0; i < 50 && !portal.includes('Bob Squarepants'); i++) {
      portal = await fetch(up.web).then(async r => r.text(), () => '')
      if (!portal.includes('Bob Squarepants')) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(portal).toContain('Bob Squarepants')

    const added = await runCli(['grades', 'add', '2', '--title', 'Pop quiz', '--type', 'quiz', '--score', '91.5', '--json', ...r])
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout).score).toBe(91.5)
    const gradeId = JSON.parse(added.stdout).id
    const shown = JSON.parse((await runCli(['grades', 'show', '2', '--json', ...r])).stdout)
    expect(shown.grades.map((g: any) => g.id)).toContain(gradeId)

    const student = await runCli(['grades', 'add-student', 'Ada', 'Lovelace', '--json', ...r])
    expect(student.code, student.stderr).toBe(0)
    const studentId = JSON.parse(student.stdout).id
    expect((await runCli(['grades', 'show', String(studentId), ...r])).stdout).toContain('Ada Lovelace')
    expect((await runCli(['grades', 'remove-student', String(studentId), ...r])).code).toBe(0)
    const gone = await runCli(['grades', 'show', String(studentId), ...r])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(`no student with id ${studentId}`)

    // The change was logged by grading and shipped to the log service.
    let logged = false
    for (let i = 0; i < 50 && !logged; i++) {
      const logs = await runCli(['logs', '--service', 'grading', '--json', ...r])
      logged = logs.stdout.split('\n').filter(Boolean).some(l => JSON.parse(l).gradeId === gradeId)
      if (!logged) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(logged).toBe(true)

    process.kill(gradings[0].pid, 'SIGKILL')
    await waitFor(e => e.event === 'member-exited' && e.name === gradings[0].name, 'member-exited')
    for (let i = 0; i < 4; i++) {
      const list = await runCli(['grades', 'list', '--json', ...r])
      expect(list.code, list.stderr).toBe(0)
      expect(JSON.parse(list.stdout)).toHaveLength(5)
    }

    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(events.filter(e => e.event === 'member-exited' && !e.expected).map(e => e.name)).toEqual([gradings[0].name])
  })
})
