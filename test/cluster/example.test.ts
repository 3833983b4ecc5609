import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, ROOT, runCli } from '../helpers/cli.js'

describe('examples/notifications: a user service run with --role ./module.js', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('registers, calls grading through the balancer, logs, and returns typed errors', async () => {
    // A user's timings, not FAST: this test is not about failure detection, and on a loaded 2-core
    // box a 150 ms probe timeout declares live nodes down (calls then find no provider).
    await cluster.registry(undefined, 0, [])
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
    // The report's log line reaches the cluster log while the other commands run.
    const logs = cluster.follow(['logs', '--follow', '--json', '--service', 'notifications', ...r])

    const missing = await runCli(['call', 'notifications', 'notify', '{"studentId": 999, "message": "hi"}', ...r])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no student 999 to notify/)
    const bad = await runCli(['call', 'notifications', 'atRisk', '{"below": 500}', ...r])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/below/)

    const status = JSON.parse((await runCli(['status', '--json', ...r])).stdout)
    expect(status.services.find((s: any) => s.name === 'notifications')).toMatchObject({ status: 'up', requires: ['grading', 'log'] })

    expect(await logs.waitFor(e => e.msg === 'at-risk report', 'the at-risk report in the cluster log')).toMatchObject({ service: 'notifications', below: 70, count: 1 })
  })
})
