import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { GdsConfig } from '../../src/node/config.js'
import { createLogger } from '../../src/node/logger.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import type { GdsNode } from '../../src/node/node.js'
import { logService } from '../../src/services/log/index.js'
import { MAX_HTTP_BODY } from '../../src/services/registry/http-compat/index.js'
import { startGoService, type FakeGoService } from '../helpers/go-service.mjs'
import { TestCluster, eventually } from '../helpers/nodes.js'

describe('services of the original Go registry (--http-compat)', () => {
  const cluster = new TestCluster()
  const fakes: FakeGoService[] = []
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map(async f => f.kill()))
    await cluster.stopAll()
  })

  async function registry (overrides: Partial<GdsConfig> = {}): Promise<{ node: GdsNode, url: string }> {
    // Roomy probes, so a loaded machine does not make a healthy service flap: what these tests
    // detect comes from closed connections and refused connects, not from timeouts.
    const node = await cluster.registry({ httpCompat: '127.0.0.1:0', heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 800, ...overrides })
    const serving = await cluster.waitFor(node, e => e.event === 'serving' && e.service === 'http-compat')
    return { node, url: (serving as { url: string }).url }
  }

  async function goService (opts: Parameters<typeof startGoService>[0]): Promise<FakeGoService> {
    const f = await startGoService(opts)
    fakes.push(f)
    return f
  }

  const http = (node: GdsNode): Array<{ name: string, status: string, url?: string, transport?: string }> =>
    node.registry!.list().services.filter(s => s.transport === 'http')

  it('register, get their providers before the answer, and are told when one is killed', async () => {
    const { node, url } = await registry()
    const log = await goService({ name: 'Log Service', registry: url })
    expect(await log.register()).toEqual({ status: 200, text: '' })
    const grading = await goService({ name: 'Grading Service', requires: ['Log Service'], registry: url })
    expect((await grading.register()).status).toBe(200)
    // The initial patch came before the 200: the service can look its providers up at once.
    expect(grading.providers.get('Log Service')).toEqual([log.url])
    expect(grading.patches[0]).toMatchObject({ Added: [{ Name: 'Log Service', URL: log.url }], Removed: [] })
    expect(http(node).map(s => [s.name, s.status, s.url]).sort()).toEqual([['grading-service', 'up', grading.url], ['log-service', 'up', log.url]])

    await log.kill()
    await grading.waitForPatch(p => p.Removed.some(e => e.URL === log.url), 'the log service removed')
    expect(grading.providers.get('Log Service')).toEqual([])
    await eventually(() => { expect(http(node).find(s => s.name === 'log-service')?.status).toBe('down') })
  })

  it('a dependent registered first is told when its provider comes, then goes (DELETE)', async () => {
    const { node, url } = await registry()
    const grading = await goService({ name: 'Grading Service', requires: ['log service'], registry: url })
    expect((await grading.register()).status).toBe(200)
    expect(grading.patches[0]).toMatchObject({ Added: [], Removed: [] })
    const log = await goService({ name: 'Log Service', registry: url })
    await log.register()
    // Named as the dependent spelt it.
    await grading.waitForPatch(p => p.Added.some(e => e.Name === 'log service' && e.URL === log.url), 'the log service added')
    expect(await log.deregister()).toEqual({ status: 200, text: '' })
    await grading.waitForPatch(p => p.Removed.some(e => e.URL === log.url), 'the log service removed')
    expect(http(node).find(s => s.name === 'log-service')?.status).toBe('leaving')
    expect(await log.deregister()).toEqual({ status: 404, text: `no service is registered at ${log.url}\n` })
  })

  it('registering the same URL twice is idempotent: one entry, no news for dependents', async () => {
    const { node, url } = await registry()
    const grading = await goService({ name: 'Grading Service', requires: ['Log Service'], registry: url })
    await grading.register()
    const log = await goService({ name: 'Log Service', registry: url })
    await log.register()
    await grading.waitForPatch(p => p.Added.length === 1, 'the log service added')
    const before = http(node).find(s => s.name === 'log-service')
    expect((await log.register()).status).toBe(200)
    expect((await log.register()).status).toBe(200)
    expect(http(node).filter(s => s.name === 'log-service')).toHaveLength(1)
    expect(http(node).find(s => s.name === 'log-service')).toMatchObject({ status: 'up', incarnation: (before as any).incarnation })
    // A change after the re-registrations arrives alone: no patch was queued for them.
    await log.kill()
    await grading.waitForPatch(p => p.Removed.length > 0, 'the log service removed')
    expect(grading.patches.map(p => [p.Added.length, p.Removed.length])).toEqual([[0, 0], [1, 0], [0, 1]])
  })

  it('a patch a dependent failed to take is made good by the next one', async () => {
    const { url } = await registry()
    const log = await goService({ name: 'Log Service', registry: url })
    await log.register()
    const grading = await goService({ name: 'Grading Service', requires: ['Log Service'], registry: url })
    await grading.register()
    grading.state.refusePatches = true
    await log.kill()
    // Refused on every try (3): the registry gives that patch up.
    await eventually(() => { expect(grading.state.refused).toBe(3) })
    grading.state.refusePatches = false
    const log2 = await goService({ name: 'Log Service', registry: url })
    await log2.register()
    const patch = await grading.waitForPatch(p => p.Added.some(e => e.URL === log2.url), 'the new log service added')
    expect(patch).toMatchObject({ Added: [{ Name: 'Log Service', URL: log2.url }], Removed: [{ Name: 'Log Service', URL: log.url }] })
    expect(grading.providers.get('Log Service')).toEqual([log2.url])
  })

  it('a URL registered again under another name replaces its entry, and is still probed', async () => {
    const { node, url } = await registry()
    const svc = await goService({ name: 'Log Service', registry: url })
    await svc.register()
    const renamed = await fetch(`${url}/services`, { method: 'POST', body: JSON.stringify({ ...svc.registration, ServiceName: 'Audit Service' }) })
    expect(renamed.status).toBe(200)
    expect(http(node).map(s => [s.name, s.status]).sort()).toEqual([['audit-service', 'up'], ['log-service', 'leaving']])
    await svc.kill()
    await eventually(() => { expect(http(node).find(s => s.name === 'audit-service')?.status).toBe('down') })
  })

  it('the initial patch waits for a service that registers before it listens (as the Go ones do)', async () => {
    const { url } = await registry()
    const grading = await goService({ name: 'Grading Service', registry: url, registerBeforeListenMs: 300 })
    expect((await grading.register()).status).toBe(200)
    expect(grading.patches).toHaveLength(1)
  })

  it('a service whose update URL never listens is refused with a reason, and nothing is applied', async () => {
    const { node, url } = await registry()
    const gone = await goService({ name: 'Ghost' })
    await gone.kill()
    const res = await fetch(`${url}/services`, { method: 'POST', body: JSON.stringify(gone.registration) })
    expect(res.status).toBe(502)
    expect(await res.text()).toBe(`cannot POST the initial patch to ServiceUpdateURL ${gone.url}/services (ECONNREFUSED); the registration was not applied: is the service listening there?\n`)
    expect(http(node)).toEqual([])
  })

  it('answers bad input with a clear status and reason, changing nothing', async () => {
    const { node, url } = await registry()
    const log = await goService({ name: 'Log Service', registry: url })
    await log.register()
    const before = JSON.stringify(http(node))
    const post = async (body: string): Promise<[number, string]> => {
      const res = await fetch(`${url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      return [res.status, await res.text()]
    }
    expect(await post('{"ServiceName": "Log')).toEqual([400, expect.stringMatching(/^the registration is not JSON/)])
    expect(await post(JSON.stringify({ ServiceName: 'X', ServiceURL: 'http://127.0.0.1:9' }))).toEqual([400, 'the registration has no ServiceUpdateURL\n'])
    expect(await post(JSON.stringify({ ...log.registration, HeartbeatURL: 'gopher://127.0.0.1:70/' }))).toEqual([400, expect.stringMatching(/must be an http or https URL/)])
    // Not back to where the registration came from: the registry would be a proxy for anyone.
    expect(await post(JSON.stringify({ ...log.registration, ServiceURL: 'http://192.0.2.1:80', HeartbeatURL: 'http://192.0.2.1/latest/meta-data' })))
      .toEqual([403, expect.stringMatching(/points at 192.0.2.1, not at the registering host 127.0.0.1/)])
    expect(await post('x'.repeat(MAX_HTTP_BODY + 1))).toEqual([413, `the body is larger than the ${MAX_HTTP_BODY}-byte limit\n`])
    const del = await fetch(`${url}/services`, { method: 'DELETE', body: 'http://127.0.0.1:9' })
    expect([del.status, await del.text()]).toEqual([404, 'no service is registered at http://127.0.0.1:9\n'])
    const other = await fetch(`${url}/elsewhere`)
    expect(other.status).toBe(404)
    expect(JSON.stringify(http(node))).toBe(before)
  })

  it('a flood of registrations stops at the limit with 503; the ones in keep working', async () => {
    const cluster2 = cluster
    const node = await cluster2.registry()
    const { HttpCompat } = await import('../../src/services/registry/http-compat/index.js')
    const compat = new HttpCompat({ listen: '127.0.0.1:0', catalog: node.catalog, publish: () => {}, log: createLogger('silent', {}), now: Date.now, random: Math.random, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 1_000, failureThreshold: 2, maxRegistrations: 3 })
    await compat.start()
    try {
      const sink = await goService({ name: 'Sink' })
      const reg = (i: number): string => JSON.stringify({ ServiceName: `S${i}`, ServiceURL: `${sink.url}/s${i}`, ServiceUpdateURL: `${sink.url}/services`, HeartbeatURL: `${sink.url}/heartbeat` })
      // A burst at once: the ones whose initial patch is still on its way hold their places.
      const statuses = await Promise.all([0, 1, 2, 3, 4].map(async i => (await fetch(`${compat.url}/services`, { method: 'POST', body: reg(i) })).status))
      expect(statuses.filter(x => x === 200)).toHaveLength(3)
      expect(statuses.filter(x => x === 503)).toHaveLength(2)
      const inside = node.catalog.all().filter(r => r.transport === 'http').map(r => r.name).sort()
      expect(inside).toHaveLength(3)
      const outside = [0, 1, 2, 3, 4].find(i => !inside.includes(`s${i}`)) as number
      const over = await fetch(`${compat.url}/services`, { method: 'POST', body: reg(outside) })
      expect([over.status, await over.text()]).toEqual([503, 'this registry holds 3 HTTP services, its limit; deregister one first (DELETE /services)\n'])
      // Re-registering one already in is not a new one.
      const again = Number(inside[0].slice(1))
      expect((await fetch(`${compat.url}/services`, { method: 'POST', body: reg(again) })).status).toBe(200)
      expect(node.catalog.all().filter(r => r.transport === 'http').map(r => r.name).sort()).toEqual(inside)
    } finally {
      await compat.stop()
    }
  })

  it('registrations waiting on their initial patch are bounded: one more is told 503, and nothing of it applied', async () => {
    const { node, url } = await registry()
    const { createServer } = await import('node:http')
    const held: Array<import('node:http').ServerResponse> = []
    const stall = createServer((_req, res) => { held.push(res) })
    await new Promise<void>(resolve => stall.listen(0, '127.0.0.1', resolve))
    const port = (stall.address() as import('node:net').AddressInfo).port
    const reg = (i: number): string => JSON.stringify({ ServiceName: `Slow ${i}`, ServiceURL: `http://127.0.0.1:${port}/s${i}`, ServiceUpdateURL: `http://127.0.0.1:${port}/services`, HeartbeatURL: `http://127.0.0.1:${port}/heartbeat` })
    try {
      const waiting = Array.from({ length: 16 }, async (_, i) => fetch(`${url}/services`, { method: 'POST', body: reg(i) }))
      await eventually(() => { expect(held.length).toBeGreaterThanOrEqual(16) })
      const over = await fetch(`${url}/services`, { method: 'POST', body: reg(16) })
      expect([over.status, await over.text()]).toEqual([503, 'too many registrations at once; try again in a moment\n'])
      // Answered at last: they register.
      for (const res of held.splice(0)) res.writeHead(200).end()
      expect(new Set((await Promise.all(waiting)).map(r => r.status))).toEqual(new Set([200]))
      expect(http(node)).toHaveLength(16)
      expect(http(node).some(s => s.name === 'slow-16')).toBe(false)
    } finally {
      stall.closeAllConnections()
      await new Promise(resolve => stall.close(resolve))
    }
  })

  it('a hung heartbeat endpoint does not delay the removal of another service', async () => {
    // Long probes: a hung endpoint holds a probe for 800 ms, twice, before it is down.
    const { node, url } = await registry({ heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 800 })
    const hung = await goService({ name: 'Hung Service', registry: url })
    const dead = await goService({ name: 'Log Service', registry: url })
    const dependent = await goService({ name: 'Portal Service', requires: ['Hung Service', 'Log Service'], registry: url })
    for (const s of [hung, dead, dependent]) expect((await s.register()).status).toBe(200)
    hung.state.heartbeat = 'hang'
    const heard = hung.state.heartbeats
    await eventually(() => { expect(hung.state.heartbeats).toBeGreaterThan(heard) }, 10_000)
    // A probe of the hung service is in flight now, and for at least 1.6 s it stays so.
    await dead.kill()
    await dependent.waitForPatch(p => p.Removed.some(e => e.URL === dead.url), 'the killed service removed')
    // Removed while the hung one was still being waited for: its probes held nothing else up.
    expect(http(node).find(s => s.name === 'hung-service')?.status).not.toBe('down')
    expect(dependent.patches.some(p => p.Removed.some(e => e.URL === hung.url))).toBe(false)
    // And the hung one is declared down in its turn.
    await dependent.waitForPatch(p => p.Removed.some(e => e.URL === hung.url), 'the hung service removed')
  })

  it('after a registry restart, its HTTP services are still known, probed and patched; one that re-registers is idempotent', async () => {
    const dataDir = await cluster.tempDir()
    const first = await registry({ dataDir })
    const log = await goService({ name: 'Log Service', registry: first.url })
    const grading = await goService({ name: 'Grading Service', requires: ['Log Service'], registry: first.url })
    await log.register()
    await grading.register()
    await first.node.stop()

    const second = await registry({ dataDir })
    await cluster.waitFor(second.node, e => e.event === 'catalog-loaded')
    expect(http(second.node).map(s => s.name).sort()).toEqual(['grading-service', 'log-service'])
    const loaded = http(second.node).find(s => s.name === 'log-service') as any
    // Probed again: a heartbeat reaches the service.
    const heard = log.state.heartbeats
    await eventually(() => { expect(log.state.heartbeats).toBeGreaterThan(heard) })
    expect((await log.register(second.url)).status).toBe(200)
    expect(http(second.node).filter(s => s.name === 'log-service')).toEqual([expect.objectContaining({ status: 'up', incarnation: loaded.incarnation })])
    await log.kill()
    await grading.waitForPatch(p => p.Removed.some(e => e.URL === log.url), 'the log service removed by the restarted registry')
  })

  it('restarted without --http-compat, the registry marks its HTTP entries down (nothing could probe them)', async () => {
    const dataDir = await cluster.tempDir()
    const first = await registry({ dataDir })
    const log = await goService({ name: 'Log Service', registry: first.url })
    await log.register()
    await first.node.stop()
    const second = await cluster.registry({ dataDir })
    await cluster.waitFor(second, e => e.event === 'catalog-loaded')
    expect(second.registry!.list().services.map(s => [s.name, s.status, s.reason])).toEqual([['log-service', 'down', 'http-compat-off']])
  })

  it('libp2p nodes that follow the name see HTTP entries, but never call one', async () => {
    const { node, url } = await registry()
    const watcher = await cluster.service(node, 'watcher', ['log-service'])
    const log = await goService({ name: 'Log Service', registry: url })
    await log.register()
    await eventually(() => { expect(watcher.catalog.providersOf('log-service').map(r => [r.transport, r.url, r.status])).toEqual([['http', log.url, 'up']]) })
    await expect(watcher.call('log-service', 'query', {})).rejects.toMatchObject({ name: 'ServiceNotFoundError', message: expect.stringMatching(/provided only through the Go registry's HTTP API/) })
  })

  it('the log node takes the Go services\' POST /log lines (stored with the service parsed out), and is offered to them as "Log Service"', async () => {
    const { node: reg, url } = await registry()
    const dir = join(await cluster.tempDir(), 'log')
    const logNode = await cluster.service(reg, 'log', [], { role: 'log', httpCompat: '127.0.0.1:0' }, [logService({ dir, httpCompat: '127.0.0.1:0' })])
    const serving = await cluster.waitFor(logNode, e => e.event === 'serving') as { url: string }
    await eventually(() => { expect(reg.registry!.list().services.find(r => r.name === 'log')?.meta.httpUrl).toBe(serving.url) })
    // A Go service requiring "Log Service" gets the log node in its initial patch, and logs there.
    const grading = await goService({ name: 'Grading Service', requires: ['Log Service'], registry: url })
    expect((await grading.register()).status).toBe(200)
    expect(grading.patches[0]).toMatchObject({ Added: [{ Name: 'Log Service', URL: serving.url }] })
    expect(await grading.log('graded student 3')).toBe(200)
    const empty = await fetch(`${serving.url}/log`, { method: 'POST', body: '' })
    expect([empty.status, await empty.text()]).toEqual([400, 'send the log line as the body of POST /log\n'])
    expect((await fetch(`${serving.url}/log`, { method: 'POST', body: 'x'.repeat(9_000) })).status).toBe(413)
    const caller = await cluster.service(reg, 'caller', ['log'])
    await eventually(() => { expect(caller.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) })
    const entries: LogEntry[] = []
    for await (const e of caller.stream<LogEntry>('log', 'query', { service: 'grading-service' })) entries.push(e)
    expect(entries).toEqual([expect.objectContaining({ service: 'grading-service', msg: 'graded student 3', level: 'info', peerId: 'http:127.0.0.1' })])
    // The log node leaves: the Go service is told.
    await logNode.stop()
    await grading.waitForPatch(p => p.Removed.some(e => e.URL === serving.url), 'the log node removed')
  })
})
