import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, ROOT, runCli } from '../helpers/cli.js'

describe('examples/notifications: a user service run with --role ./module.js', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('registers, calls grading through the balancer, logs, and returns typed errors', async () => {
    await cluster.registry()
    const base = ['--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0']
    const log = cluster.start(['--role', 'log', ...base, '--data-dir', await cluster.dir()])
    const grading = cluster.start(['--role', 'grading', ...base, '--data-dir', await cluster.dir()])
    const module = join(ROOT, 'examples', 'notifications', 'notifications.js')
    const notif = cluster.start(['--role', module, ...base, '--data-dir', await cluster.dir()])
    for (const p of [log, grading, notif]) await p.waitFor(e => e.event === 'registered', 'registered')
    await notif.waitFor(e => e.event === 'provider-up' && e.name === 'grading', 'grading up')
    const r = ['--registry', cluster.registryAddr]

    const report = await runCli(['call', 'notifications', 'atRisk', '{"below": 70}', '--json', ...r])
    expect(report.code, report.stderr).toBe(0)
    expect(JSON.parse(report.stdout)).toEqual({ below: 70, students: [{ id: 4, name: 'Patrick Star', average: 64.3 }] })

    const missing = await runCli(['call', 'notifications', 'notify', '{"studentId": 999, "message": "hi"}', ...r])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no student 999 to notify/)
    const bad = await runCli(['call', 'notifications', 'atRisk', '{"below": 500}', ...r])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/below/)

    const status = JSON.parse((await runCli(['status', '--json', ...r])).stdout)
    expect(status.services.find((s: any) => s.name === 'notifications')).toMatchObject({ status: 'up', requires: ['grading', 'log'] })

    let logged = ''
    for (let i = 0; i < 50 && !logged.includes('at-risk report'); i++) {
      logged = (await runCli(['logs', '--service', 'notifications', ...r])).stdout
      if (!logged.includes('at-risk report')) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(logged).toContain('at-risk report')
  })
})
