import { afterEach, describe, expect, it } from 'vitest'
import { CliProcess, ProcessCluster, ROOT, runCli, type NodeProcess } from '../helpers/cli.js'
import { join } from 'node:path'

/** Every peer a full member (issue 13): the whole catalogue on every node, shown with the registry gone. */
describe('cluster: every node holds the whole catalogue', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  const addrOf = async (p: NodeProcess): Promise<string> =>
    (await p.waitFor(e => e.event === 'listening', 'listening')).addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/'))
  const idOf = async (p: NodeProcess): Promise<string> => (await p.waitFor(e => e.event === 'listening', 'listening')).peerId

  /** `gds status --json --peer ADDR`, retried until `ok` holds of it or the deadline passes. */
  const peerViewUntil = async (addr: string, ok: (json: any) => boolean, what: string, timeoutMs = 20_000): Promise<any> => {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (let i = 0; i < 200; i++) {
      const r = await runCli(['status', '--json', '--peer', addr])
      last = `${r.code} ${r.stdout} ${r.stderr}`
      if (r.code === 0 && ok(JSON.parse(r.stdout))) return JSON.parse(r.stdout)
      if (Date.now() > deadline) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    throw new Error(`${what}: ${last}`)
  }

  it('a node that requires nothing lists every service, from the registry\'s snapshot and from gossip, with the registry killed; the registry returns and views converge with no down', async () => {
    const regDir = await cluster.dir()
    await cluster.registry(regDir)
    const port = Number(cluster.registryAddr.split('/')[4])
    // Two before the idle node (it learns them from the registry's snapshot), one after (from gossip).
    const log = await cluster.service('log')
    const grading = await cluster.service('grading', ['log'])
    const idle = await cluster.service('idle')
    const web = await cluster.service('web', ['grading'])
    const ids = new Map([[await idOf(log), 'log'], [await idOf(grading), 'grading'], [await idOf(idle), 'idle'], [await idOf(web), 'web']])
    const idleAddr = await addrOf(idle)
    const names = (json: any): string => json.services.filter((s: any) => s.status === 'up' && ids.get(s.peerId) === s.name).map((s: any) => s.name).sort().join(',')

    const before = await peerViewUntil(idleAddr, j => names(j) === 'grading,idle,log,web', 'the idle node never held the whole catalogue')
    expect(before.source).toMatchObject({ role: 'peer', registryConnected: true })
    // It heard of the others; events are only about what a node requires, and it requires nothing.
    expect(idle.events.some(e => e.event === 'provider-up')).toBe(false)

    cluster.procs[0].signal('SIGKILL')
    await cluster.procs[0].exited
    await idle.waitFor(e => e.event === 'registry-lost', 'registry-lost', 15_000)
    const after = await peerViewUntil(idleAddr, j => j.source.registryConnected === false, 'the idle node never saw the registry go')
    expect(names(after)).toBe('grading,idle,log,web')
    // How fresh: when it last heard from the registry and last changed, on its own clock.
    expect(after.source.registryLastSeen).toBeGreaterThan(0)
    expect(after.source.now).toBeGreaterThanOrEqual(after.source.registryLastSeen)
    expect(after.source.changedAt).toBeGreaterThan(0)

    const text = await runCli(['status', '--peer', idleAddr])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/view of peer \S+: the whole catalogue it holds \(\d+ entries; registry NOT reachable from it; last heard from the registry [\d.]+m?s ago; last change [\d.]+m?s ago\)/)

    // The registry returns on its data dir and port: every node re-registers and takes its
    // snapshot again; the idle node's view is the registry's, and no one saw a provider go down.
    const marks = [log, grading, idle, web].map(p => p.mark())
    cluster.start(['--role', 'registry', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', regDir, '--heartbeat-interval', '200', '--heartbeat-timeout', '150'])
    for (const [i, p] of [log, grading, idle, web].entries()) await p.waitFor(e => e.event === 'registered', 're-registered', 20_000, marks[i])
    const back = await peerViewUntil(idleAddr, j => j.source.registryConnected === true && names(j) === 'grading,idle,log,web', 'the idle node did not converge with the returned registry')
    expect(back.services.filter((s: any) => ids.get(s.peerId) === undefined)).toEqual([])
    // (A `provider-suspect` may come and go: the restarted registry probes everyone at once with the test's 150 ms timeout.)
    for (const p of [log, grading, idle, web]) expect(p.events.filter(e => e.event === 'provider-down').map(e => JSON.stringify(e))).toEqual([])
  })

  it('gds call, grades and logs reach services through --peer (or GDS_PEER) while the registry is gone; nothing reachable names what was tried', async () => {
    await cluster.registry()
    const base = ['--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0']
    const log = cluster.start(['--role', 'log', ...base, '--data-dir', await cluster.dir()])
    await log.waitFor(e => e.event === 'registered', 'log registered')
    const grading = cluster.start(['--role', 'grading', ...base, '--data-dir', await cluster.dir()])
    await grading.waitFor(e => e.event === 'registered', 'grading registered')
    const idle = await cluster.service('idle')
    const idleAddr = await addrOf(idle)
    await peerViewUntil(idleAddr, j => ['log', 'grading'].every(n => j.services.some((s: any) => s.name === n && s.status === 'up')), 'the idle node never heard of log and grading')
    // Asked while the registry is there, the CLI remembers the peers its answer named.
    const home = await cluster.dir()
    expect((await runCli(['status', '--json', '--registry', cluster.registryAddr], 20_000, { GDS_HOME: home })).code).toBe(0)

    cluster.procs[0].signal('SIGKILL')
    await cluster.procs[0].exited
    await idle.waitFor(e => e.event === 'registry-lost', 'registry-lost', 15_000)

    // Without a peer, and none remembered: exit 2, naming the registry tried and what to do.
    const alone = await runCli(['grades', 'list', '--registry', cluster.registryAddr], 20_000, { GDS_HOME: await cluster.dir() })
    expect(alone.code).toBe(2)
    expect(alone.stderr).toMatch(/cannot reach the registry at \/ip4\/127\.0\.0\.1\/tcp\/\d+.*--peer \(or GDS_PEER\)/s)
    // With the peers remembered: the calls go through one of them, saying so on stderr; status stays
    // the registry's view (exit 2) and names a remembered peer to pass.
    const remembered = await runCli(['grades', 'list', '--json', '--registry', cluster.registryAddr], 20_000, { GDS_HOME: home })
    expect(remembered.code, remembered.stderr).toBe(0)
    expect(JSON.parse(remembered.stdout).length).toBeGreaterThan(0)
    expect(remembered.stderr).toMatch(/warning: cannot reach the registry at .*; asked \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+ instead/)
    const status = await runCli(['status', '--registry', cluster.registryAddr], 20_000, { GDS_HOME: home })
    expect(status.code).toBe(2)
    expect(status.stderr).toMatch(/such as one the registry named earlier: \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

    const list = await runCli(['grades', 'list', '--json', '--peer', idleAddr])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).length).toBeGreaterThan(0)
    const call = await runCli(['call', 'grading', 'getStudent', '{"id": 1}', '--json', '--peer', idleAddr])
    expect(call.code, call.stderr + call.stdout).toBe(0)
    expect(JSON.parse(call.stdout)).toMatchObject({ id: 1 })
    const logs = await runCli(['logs', '--json', '-n', '5'], 20_000, { GDS_PEER: idleAddr })
    expect(logs.code, logs.stderr + logs.stdout).toBe(0)
    expect(logs.stdout.trim().split('\n').length).toBeGreaterThan(0)

    // A dead peer first, then a live one: tried in turn. Only dead ones: exit 2, each named.
    const dead = cluster.registryAddr
    const second = await runCli(['grades', 'list', '--json', '--peer', `${dead},${idleAddr}`])
    expect(second.code, second.stderr).toBe(0)
    const none = await runCli(['call', 'grading', 'listStudents', '--peer', dead, '--peer', '/ip4/127.0.0.1/tcp/1'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/no peer answered \(tried 2\): cannot reach the peer at \/ip4\/127\.0\.0\.1\/tcp\/\d+.*; cannot reach the peer at \/ip4\/127\.0\.0\.1\/tcp\/1: connection refused \(is that node still running\?/s)
    // Through a peer, a service nobody provides is an error about that service, and the peer's table is unchanged.
    const missing = await runCli(['call', 'nosuch', 'm', '--peer', idleAddr])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/nosuch/)
  })

  /** Every node's own view lists every one of `names` up (each has heard of all the others: members may accuse and be asked). */
  const allKnown = async (procs: NodeProcess[], names: string[]): Promise<void> => {
    for (const p of procs) await peerViewUntil(await addrOf(p), j => names.every(n => j.services.some((s: any) => s.name === n && s.status === 'up')), `${names.join(',')} never all known`)
  }
  const downVia = (name: string) => (e: any) => e.event === 'provider-down' && e.name === name

  it('registry killed, default timings: kill -9 and SIGSTOP of providers reach their dependents via the peers; SIGCONT brings it back; the registry returns with no spurious down→up', async () => {
    const regDir = await cluster.dir()
    const registry = await cluster.registry(regDir, 0, [])
    const port = Number(cluster.registryAddr.split('/')[4])
    const store = await cluster.service('store')
    const cache = await cluster.service('cache')
    const a = await cluster.service('a', ['store', 'cache'])
    const b = await cluster.service('b', ['store', 'cache'])
    const x = await cluster.service('x')
    const storeId = await idOf(store)
    const cacheId = await idOf(cache)
    await allKnown([store, cache, a, b, x], ['store', 'cache', 'a', 'b', 'x'])

    registry.signal('SIGKILL')
    await registry.exited
    for (const p of [store, cache, a, b, x]) await p.waitFor(e => e.event === 'registry-lost', 'registry-lost', 15_000)

    // (2) kill -9: no leave, no deregistration; the peers find it gone and agree.
    store.signal('SIGKILL')
    await store.exited
    for (const d of [a, b]) expect(await d.waitFor(downVia('store'), 'store down via peers', 15_000)).toMatchObject({ peerId: storeId, via: 'peers' })

    // (3) SIGSTOP: the process holds its sockets and never answers; the timeout decides.
    const marks = [a.mark(), b.mark()]
    cache.signal('SIGSTOP')
    for (const d of [a, b]) expect(await d.waitFor(downVia('cache'), 'cache down via peers', 15_000)).toMatchObject({ peerId: cacheId, via: 'peers', reason: 'heartbeat-timeout' })
    cache.signal('SIGCONT')
    // It sees the suspicion of itself and refutes it on gossip: up again, from its own word.
    for (const [i, d] of [a, b].entries()) expect(await d.waitFor(e => e.event === 'provider-up' && e.name === 'cache', 'cache back up', 15_000, marks[i])).toMatchObject({ peerId: cacheId })

    // (6) The registry returns on its data dir: it still lists store `up` at the version the
    // peers declared down; it probes, finds it gone, and says so a version later. No one sees
    // store come back up, nor cache go down.
    const back = [a, b, x, cache].map(p => p.mark())
    cluster.start(['--role', 'registry', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', regDir])
    for (const [i, p] of [a, b, x, cache].entries()) await p.waitFor(e => e.event === 'registered', 're-registered', 30_000, back[i])
    const reg = `/ip4/127.0.0.1/tcp/${port}`
    const registryView = async (): Promise<any> => JSON.parse((await runCli(['status', '--json', '--registry', reg])).stdout)
    for (let i = 0; i < 100; i++) {
      const v = await registryView().catch(() => undefined)
      if (v?.services.some((s: any) => s.peerId === storeId && s.status === 'down') === true) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    for (const d of [a, b]) {
      const view = await peerViewUntil(await addrOf(d), j => j.source.registryConnected === true &&
        j.services.some((s: any) => s.peerId === storeId && s.status === 'down') && j.services.some((s: any) => s.peerId === cacheId && s.status === 'up'), 'a dependent did not converge with the returned registry')
      expect(view.services.find((s: any) => s.peerId === storeId).status).toBe('down')
    }
    for (const [i, d] of [a, b].entries()) {
      const after = d.events.slice(back[i])
      expect(after.filter(e => e.name === 'store' && e.event === 'provider-up')).toEqual([])
      expect(after.filter(e => e.name === 'cache' && e.event === 'provider-down')).toEqual([])
    }
  })

  it('registry killed: a member that keeps gossiping suspicion of a healthy provider does not take it down; the provider refutes', async () => {
    await cluster.registry(undefined, 0, [])
    const store = await cluster.service('store')
    const a = await cluster.service('a', ['store'])
    const b = await cluster.service('b', ['store'])
    const x = await cluster.service('x')
    // Within the gossip budget (5 a second): its word must arrive to mean anything.
    const hostile = cluster.follow([cluster.registryAddr, 'store', '300'], join(ROOT, 'test/helpers/hostile-peer.mjs')) as CliProcess<any>
    await hostile.waitFor(e => e.event === 'registered', 'hostile registered', 20_000)
    await allKnown([store, a, b, x], ['store', 'a', 'b', 'x', 'hostile'])
    const seqBefore = (await peerViewUntil(await addrOf(a), () => true, 'view')).services.find((s: any) => s.name === 'store').seq

    cluster.procs[0].signal('SIGKILL')
    await cluster.procs[0].exited
    for (const p of [store, a, b, x]) await p.waitFor(e => e.event === 'registry-lost', 'registry-lost', 15_000)
    // Twenty forged suspicions (six seconds of them) with no registry to answer for the provider.
    const mark = hostile.mark()
    await hostile.waitFor(e => e.event === 'forged' && e.count >= 20, 'twenty forged suspicions', 30_000, mark)
    // Each was heard (the provider refuted: its seq rose) and none made a dependent declare it down.
    const view = await peerViewUntil(await addrOf(a), j => j.services.find((s: any) => s.name === 'store').seq > seqBefore, 'the provider never refuted')
    expect(view.services.find((s: any) => s.name === 'store').status).toBe('up')
    for (const d of [a, b]) expect(d.events.filter(downVia('store'))).toEqual([])
  })
})
