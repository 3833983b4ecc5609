import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, runCli, type NodeProcess } from '../helpers/cli.js'

/** The peer-to-peer path with real processes: the cluster keeps working without its hub. */
describe('cluster: gossip keeps dependency updates flowing without the registry', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  const addrOf = async (p: NodeProcess): Promise<string> =>
    (await p.waitFor(e => e.event === 'listening', 'listening')).addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/'))

  it('kill -9 the registry; a provider leaves; a new one (no grant yet) is taken by no one until the registry returns and converges', async () => {
    const regDir = await cluster.dir()
    const registry = await cluster.registry(regDir)
    const port = Number(cluster.registryAddr.split('/')[4])
    const log1 = await cluster.service('log')
    const web = await cluster.service('web', ['log'])
    const store = await cluster.service('store', ['log'])
    const log1Id = (await log1.waitFor(e => e.event === 'listening', 'l')).peerId
    for (const d of [web, store]) await d.waitFor(e => e.event === 'provider-up' && e.peerId === log1Id, 'knows log1')
    // The mesh is not a star: wait until each dependent is linked to peers besides the registry.
    for (const d of [web, store]) {
      const addr = await addrOf(d)
      const deadline = Date.now() + 15_000
      for (;;) {
        const v = await runCli(['status', '--json', '--peer', addr])
        if (v.code === 0 && JSON.parse(v.stdout).source.connectedPeers >= 3) break
        if (Date.now() > deadline) throw new Error(`the gossip mesh did not form around ${addr}: ${v.stdout}`)
      }
    }

    registry.signal('SIGKILL')
    await registry.exited
    await web.waitFor(e => e.event === 'registry-lost', 'registry-lost')

    // (1) A new provider bootstrapped through web (not the registry) while the registry is away:
    // it holds no grant, so it announces nothing `up` and no dependent takes it.
    const log2 = cluster.start(['--role', 'service', '--name', 'log', '--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--data-dir', await cluster.dir(), '--bootstrap', await addrOf(web)])
    const log2Id = (await log2.waitFor(e => e.event === 'listening', 'l2')).peerId
    await log2.waitFor(e => e.event === 'ready', 'log2 ready')

    // `gds status --peer` shows a peer's view while the registry is down.
    const view = await runCli(['status', '--json', '--peer', await addrOf(store)])
    expect(view.code, view.stderr).toBe(0)
    const json = JSON.parse(view.stdout)
    expect(json.source).toMatchObject({ role: 'peer', registryConnected: false })
    expect(json.source.connectedPeers).toBeGreaterThanOrEqual(1)
    expect(json.services.filter((s: any) => s.name === 'log' && s.status === 'up').map((s: any) => s.peerId)).toEqual([log1Id])

    // (2) A provider stopped gracefully while the registry is down: dependents drop it.
    const [w1, s1] = [web.mark(), store.mark()]
    expect((await log1.stop()).code).toBe(0)
    for (const [d, m] of [[web, w1], [store, s1]] as const) {
      const down = await d.waitFor(e => e.event === 'provider-down' && e.peerId === log1Id, 'log1 left over gossip', 15_000, m)
      expect(down).toMatchObject({ via: 'gossip', reason: 'left' })
    }
    for (const d of [web, store]) expect(d.events.some(e => e.event === 'provider-up' && e.peerId === log2Id)).toBe(false)

    // (3) The registry comes back on its data dir: its catalogue converges with what the peers know.
    cluster.start(['--role', 'registry', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', regDir, '--heartbeat-interval', '200', '--heartbeat-timeout', '150'])
    const deadline = Date.now() + 20_000
    let states = ''
    while (Date.now() < deadline) {
      const r = await runCli(['status', '--json', '--registry', cluster.registryAddr])
      if (r.code === 0) {
        const s = JSON.parse(r.stdout)
        const live = s.services.filter((x: any) => x.status === 'up').map((x: any) => `${x.name}:${x.peerId === log2Id ? 'log2' : x.peerId === log1Id ? 'log1' : 'dep'}`).sort()
        states = live.join(',')
        const log1Entry = s.services.find((x: any) => x.peerId === log1Id)
        if (states === 'log:log2,store:dep,web:dep' && (log1Entry === undefined || log1Entry.status !== 'up')) break
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(states).toBe('log:log2,store:dep,web:dep')
    // log2, registered and granted at last, reaches the dependents.
    for (const d of [web, store]) await d.waitFor(e => e.event === 'provider-up' && e.peerId === log2Id, 'log2 up once registered', 15_000)
  })
})
