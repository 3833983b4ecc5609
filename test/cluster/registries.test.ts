import { afterAll, describe, expect, it } from 'vitest'
import { ProcessCluster, runCli, type NodeProcess } from '../helpers/cli.js'
import { ETCD_BIN, TestEtcd } from '../helpers/etcd.js'

/**
 * Three registries on one real etcd, services spread over them, kill -9 one registry: its
 * services re-register elsewhere, no dependent hears a false provider-down, and any survivor
 * lists everything up. The failover times are printed (measured, never asserted).
 */
/** The defaults a user gets: 13 processes and etcd on a shared 2-core machine miss 150 ms probe deadlines. */
const TIMINGS = ['--heartbeat-interval', '1000', '--heartbeat-timeout', '500']

describe.skipIf(ETCD_BIN === undefined)('three registries on etcd (real processes)', () => {
  const etcd = new TestEtcd()
  const cluster = new ProcessCluster()
  afterAll(async () => {
    await cluster.stopAll()
    await etcd.stop()
  })

  it('kill -9 of a registry: its services move, nobody is told a live provider is down', async () => {
    await etcd.start()
    const regs: NodeProcess[] = []
    const addrs: string[] = []
    for (let i = 0; i < 3; i++) {
      const p = cluster.start(['--role', 'registry', '--store', etcd.url, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir(), ...TIMINGS])
      const l = await p.waitFor(e => e.event === 'listening', 'registry listening', 30_000)
      regs.push(p)
      addrs.push(l.addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/')))
    }
    const all = addrs.join(',')
    const start = async (name: string, requires: string[] = []): Promise<NodeProcess> => {
      const p = cluster.start(['--role', 'service', '--name', name, '--registry', all, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir(), ...TIMINGS,
        ...(requires.length > 0 ? ['--requires', requires.join(',')] : [])])
      await p.waitFor(e => e.event === 'registered', `${name} registered`, 30_000)
      return p
    }
    const providers: NodeProcess[] = []
    for (let i = 0; i < 6; i++) providers.push(await start('log'))
    const deps: NodeProcess[] = []
    for (let i = 0; i < 3; i++) deps.push(await start(`dep${i}`, ['log']))
    for (const d of deps) {
      for (const p of providers) {
        const id = p.events.find(e => e.event === 'listening')!.peerId
        await d.waitFor(e => (e.event === 'provider-up' || e.event === 'registered') && (e.peerId === id || e.providers?.some((x: any) => x.peerId === id)), 'dependent knows every provider', 30_000)
      }
    }
    const regIds = regs.map(r => r.events.find(e => e.event === 'listening')!.peerId)
    const homeOf = (p: NodeProcess): string => p.events.filter(e => e.event === 'registered').at(-1)!.registry
    const victim = regIds.map((id, i) => ({ i, n: [...providers, ...deps].filter(p => homeOf(p) === id).length })).sort((a, b) => b.n - a.n)[0].i
    const moved = [...providers, ...deps].filter(p => homeOf(p) === regIds[victim])
    expect(moved.length).toBeGreaterThan(0)
    const marks = new Map([...providers, ...deps].map(p => [p, p.mark()]))

    const killedAt = Date.now()
    regs[victim].signal('SIGKILL')
    const times: number[] = []
    for (const p of moved) {
      const again = await p.waitFor(e => e.event === 'registered', 're-registered elsewhere', 30_000, marks.get(p))
      expect(again.registry).not.toBe(regIds[victim])
      times.push(again.ts - killedAt)
    }
    times.sort((a, b) => a - b)
    console.log(`registry kill -9 → ${moved.length} services re-registered: median ${times[Math.floor(times.length / 2)]} ms, max ${times.at(-1)} ms`)

    const survivor = addrs.find((_, i) => i !== victim)!
    const survivorReg = regs.find((_, i) => i !== victim)!
    // Let any wrong verdict have time to happen: several probe rounds and the lease TTL.
    await survivorReg.waitFor(e => e.event === 'never', 'a quiet while', 6_000).catch(() => {})
    for (const d of deps) {
      const downs = d.events.slice(marks.get(d)).filter(e => e.event === 'provider-down' || e.event === 'provider-suspect')
      expect(downs, 'no false down at a dependent').toEqual([])
    }
    const status = await runCli(['status', '--json', '--registry', survivor])
    expect(status.code, status.stderr).toBe(0)
    const services = JSON.parse(status.stdout).services as Array<{ name: string, status: string }>
    expect(services.filter(s => s.name === 'log').map(s => s.status)).toEqual(Array(6).fill('up'))

    // Then kill -9 a provider: its dependents are told.
    const victimProvider = providers[0]
    const id = victimProvider.events.find(e => e.event === 'listening')!.peerId
    const pm = new Map(deps.map(d => [d, d.mark()]))
    const providerKilledAt = Date.now()
    victimProvider.signal('SIGKILL')
    const told: number[] = []
    for (const d of deps) {
      const e = await d.waitFor(e => e.event === 'provider-down' && e.peerId === id, 'dependent told the provider is down', 30_000, pm.get(d))
      told.push(e.ts - providerKilledAt)
    }
    told.sort((a, b) => a - b)
    console.log(`provider kill -9 → ${deps.length} dependents told (3 registries): median ${told[Math.floor(told.length / 2)]} ms, max ${told.at(-1)} ms`)
  }, 240_000)
})
