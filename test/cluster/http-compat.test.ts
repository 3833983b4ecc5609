import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, ROOT, runCli, type CliProcess } from '../helpers/cli.js'

const GO_SERVICE = join(ROOT, 'test', 'helpers', 'go-service.mjs')
const ROOMY = ['--heartbeat-interval', '1000', '--heartbeat-timeout', '800']

/** Real processes: a gds registry with --http-compat, and fake Go services as processes of their own. */
describe('cluster: services of the Go registry (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function registry (dataDir: string): Promise<{ url: string, addr: string }> {
    // Roomy probes: a loaded machine must not make a healthy service flap; a kill is seen from
    // its closed connection and refused connect, not from timeouts.
    const p = cluster.start(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir, ...ROOMY, '--http-compat', '127.0.0.1:0'])
    const listening = await p.waitFor(e => e.event === 'listening', 'registry listening')
    const serving = await p.waitFor(e => e.event === 'serving' && e.service === 'http-compat', 'registry serving the Go API')
    return { url: serving.url, addr: listening.addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/')) }
  }

  async function goService (name: string, registryUrl: string, requires: string[] = []): Promise<{ proc: CliProcess, url: string }> {
    const proc = cluster.follow(['--name', name, '--registry', registryUrl, ...requires.flatMap(r => ['--requires', r])], GO_SERVICE)
    const { url } = await proc.waitFor(e => e.event === 'listening', `${name} listening`)
    await proc.waitFor(e => e.event === 'registered', `${name} registered`)
    return { proc, url }
  }

  const patchWith = (list: 'Added' | 'Removed', url: string) => (e: Record<string, any>) =>
    e.event === 'patch' && e.patch[list].some((x: { URL: string }) => x.URL === url)

  it('kill -9 of a Go service reaches its dependent as a patch; after a registry restart it is still followed and a new instance is announced', async () => {
    const dataDir = await cluster.dir()
    const first = await registry(dataDir)
    const log = await goService('Log Service', first.url)
    const grading = await goService('Grading Service', first.url, ['Log Service'])
    // The initial patch, before the registration's answer.
    const initial = await grading.proc.waitFor(e => e.event === 'patch', 'initial patch')
    expect(initial.patch).toEqual({ Added: [{ Name: 'Log Service', URL: log.url }], Removed: [] })

    const status = await runCli(['status', '--json', '--registry', first.addr])
    expect(status.code).toBe(0)
    const services = JSON.parse(status.stdout).services.map((s: any) => [s.name, s.status, s.transport, s.url]).sort()
    expect(services).toEqual([['grading-service', 'up', 'http', grading.url], ['log-service', 'up', 'http', log.url]])

    const mark = grading.proc.mark()
    log.proc.signal('SIGKILL')
    await grading.proc.waitFor(patchWith('Removed', log.url), 'the killed log service removed', 15_000, mark)

    // The registry restarts (a new port for its API: the Go services do not register again).
    await cluster.procs[0].stop()
    const second = await registry(dataDir)
    const after = await runCli(['status', '--json', '--registry', second.addr])
    expect(JSON.parse(after.stdout).services.find((s: any) => s.name === 'grading-service')).toMatchObject({ transport: 'http', url: grading.url })
    // A new log instance registers with the restarted registry: the reloaded dependent is told.
    const mark2 = grading.proc.mark()
    const log2 = await goService('Log Service', second.url)
    await grading.proc.waitFor(patchWith('Added', log2.url), 'the new log service added', 15_000, mark2)
  })
})
