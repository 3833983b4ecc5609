import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePorts } from '../../src/cluster/etcd.js'
import { isAlive } from '../../src/node/pid.js'
import { CliProcess, runCli } from '../helpers/cli.js'
import { ETCD_BIN } from '../helpers/etcd.js'

/** A member's (re)start on a loaded 2-core machine: generous deadlines, never asserted as speed. */
const START_MS = 45_000

describe('gds cluster up --registries (real processes)', () => {
  const dirs: string[] = []
  let up: CliProcess | undefined
  afterEach(async () => {
    await up?.stop(15_000)
    // A supervisor that did not stop cleanly leaves its members: end each one it reported, by pid.
    for (const e of up?.events ?? []) if (e.event === 'member-listening' && isAlive(e.pid)) process.kill(e.pid, 'SIGKILL')
    up = undefined
    await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })))
  })

  async function dir (): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'gds-upreg-'))
    dirs.push(d)
    return d
  }

  it('without etcd on PATH: says how to install it, exit 1, a JSON error object under --json', async () => {
    const d = await dir()
    // An empty PATH (the CLI runs by process.execPath, which needs none).
    const noEtcd = { PATH: await dir() }
    const json = await runCli(['cluster', 'up', '--registries', '3', '--json', '-d', d], 20_000, noEtcd)
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'ETCD_MISSING', message: expect.stringContaining('apt-get install etcd-server') })
    const human = await runCli(['cluster', 'up', '--registries', '3', '-d', d], 20_000, noEtcd)
    expect(human.code).toBe(1)
    expect(human.stderr.trim().split('\n')).toHaveLength(1)
    expect(human.stderr).toContain('apt-get install etcd-server')
  })

  it.skipIf(ETCD_BIN === undefined)('three registries on a local etcd: status works, etcd killed is restarted and the registries reconnect, Ctrl-C stops all', async () => {
    const d = await dir()
    const [httpPort] = await freePorts(1)
    up = new CliProcess(['cluster', 'up', '--json', '--registries', '3', '--port', '0', '--http-port', String(httpPort), '-d', d])
    const ready = await up.waitFor(e => e.event === 'cluster-up', 'cluster-up', 90_000)
    const listening = up.events.filter(e => e.event === 'member-listening')
    expect(listening.filter(e => e.role === 'registry').map(e => e.name).sort()).toEqual(['registry', 'registry-2', 'registry-3'])
    const etcd = listening.find(e => e.role === 'etcd')!
    expect(etcd.addrs[0]).toMatch(/^etcd:\/\/127\.0\.0\.1:\d+$/)
    expect(ready.registry.split(',')).toHaveLength(3)

    const registries = ['--registry', ready.registry]
    const status = await runCli(['status', '--json', ...registries])
    expect(status.code, status.stderr).toBe(0)
    const json = JSON.parse(status.stdout)
    expect(json.store).toMatchObject({ kind: 'etcd', state: 'ok', where: etcd.addrs[0].slice('etcd://'.length) })
    expect(json.services.map((s: any) => `${s.name}:${s.status}`).sort()).toEqual(['grading:up', 'log:up', 'webui:up'])
    const cluster = JSON.parse((await runCli(['cluster', 'status', '--json', '-d', d])).stdout)
    expect(cluster.members.find((m: any) => m.name === 'etcd')).toMatchObject({ role: 'etcd', state: 'running', pid: etcd.pid })

    // etcd is followed like a member: killed, it is restarted on the same port and data, and the registries say they lost and regained it.
    const mark = up.mark()
    process.kill(etcd.pid, 'SIGKILL')
    await up.waitFor(e => e.event === 'member-exited' && e.name === 'etcd' && e.restartInMs !== undefined, 'etcd exit reported', START_MS, mark)
    const back = await up.waitFor(e => e.event === 'member-listening' && e.name === 'etcd', 'etcd restarted', START_MS, mark)
    expect(back).toMatchObject({ restarts: 1, addrs: etcd.addrs })
    for (const name of ['registry', 'registry-2', 'registry-3']) {
      await up.waitFor(e => e.event === 'member-event' && e.name === name && e.detail.event === 'store-state' && e.detail.state === 'ok', `${name} back on etcd`, START_MS, mark)
    }
    const again = await runCli(['status', '--json', ...registries])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).services).toHaveLength(3)

    up.signal('SIGINT')
    expect((await up.exited).code).toBe(0)
    const pids = up.events.filter(e => e.event === 'member-listening').map(e => e.pid as number)
    expect(pids.filter(pid => isAlive(pid))).toEqual([])
    expect(up.events.filter(e => e.event === 'member-exited' && e.expected !== true).map(e => e.name)).toEqual(['etcd'])
  }, 180_000)
})
