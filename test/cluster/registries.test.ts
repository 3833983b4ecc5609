import { Etcd3 } from 'etcd3'
import { afterEach, describe, expect, it } from 'vitest'
import { etcdKey } from '../../src/services/registry/store/etcd-store.js'
import { ProcessCluster, runCli, type NodeProcess } from '../helpers/cli.js'
import { ETCD_BIN, TestEtcd } from '../helpers/etcd.js'
import { eventually } from '../helpers/nodes.js'

/**
 * Three registries on one real etcd, services spread over them, as real processes: a registry
 * dies (with a provider homed on it), a provider dies, etcd goes away for 10 s. The failover
 * times are printed (measured, never asserted).
 */
/** The defaults a user gets: 13 processes and etcd on a shared 2-core machine miss 150 ms probe deadlines. */
const TIMINGS = ['--heartbeat-interval', '1000', '--heartbeat-timeout', '500']
const START_MS = 30_000

const idOf = (p: NodeProcess): string => p.events.find(e => e.event === 'listening')!.peerId
const homeOf = (p: NodeProcess): string => p.events.filter(e => e.event === 'registered').at(-1)!.registry
const falseAlarms = (p: NodeProcess, from: number, except?: string): unknown[] =>
  p.events.slice(from).filter(e => (e.event === 'provider-down' || e.event === 'provider-suspect') && e.peerId !== except)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

describe.skipIf(ETCD_BIN === undefined)('three registries on etcd (real processes)', () => {
  let etcd = new TestEtcd()
  const cluster = new ProcessCluster()
  afterEach(async () => {
    await cluster.stopAll()
    await etcd.stop()
    etcd = new TestEtcd()
  })

  /** A registry on the test's etcd, listening on `listen`: its loopback address (pinned). */
  async function registry (dir: string, listen = '/ip4/127.0.0.1/tcp/0'): Promise<{ proc: NodeProcess, addr: string }> {
    const proc = cluster.start(['--role', 'registry', '--store', etcd.url, '--listen', listen, '--data-dir', dir, ...TIMINGS])
    const l = await proc.waitFor(e => e.event === 'listening', 'registry listening', START_MS)
    return { proc, addr: l.addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/')) }
  }

  /** Three registries on the test's etcd; `all` is the --registry list every member gets. */
  async function registries (): Promise<{ procs: NodeProcess[], addrs: string[], all: string, dirs: string[] }> {
    await etcd.start()
    const dirs = [await cluster.dir(), await cluster.dir(), await cluster.dir()]
    const started = []
    for (const dir of dirs) started.push(await registry(dir))
    const addrs = started.map(r => r.addr)
    return { procs: started.map(r => r.proc), addrs, all: addrs.join(','), dirs }
  }

  async function member (all: string, role: string, name: string, requires: string[] = []): Promise<NodeProcess> {
    const p = cluster.start(['--role', role, ...(role === 'service' ? ['--name', name] : []), '--registry', all, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir(), ...TIMINGS,
      ...(requires.length > 0 ? ['--requires', requires.join(',')] : [])])
    await p.waitFor(e => e.event === 'registered', `${name} registered`, START_MS)
    return p
  }

  async function knowsAll (deps: NodeProcess[], providers: NodeProcess[]): Promise<void> {
    for (const d of deps) {
      for (const p of providers) {
        const id = idOf(p)
        await d.waitFor(e => (e.event === 'provider-up' || e.event === 'registered') && (e.peerId === id || e.providers?.some((x: any) => x.peerId === id)), 'dependent knows every provider', START_MS)
      }
    }
  }

  /** Three registries, `n` providers of log and three dependents of it, each knowing every provider. */
  async function populated (n: number): Promise<{ regs: Awaited<ReturnType<typeof registries>>, providers: NodeProcess[], deps: NodeProcess[] }> {
    const regs = await registries()
    const providers: NodeProcess[] = []
    for (let i = 0; i < n; i++) providers.push(await member(regs.all, 'service', 'log'))
    const deps: NodeProcess[] = []
    for (let i = 0; i < 3; i++) deps.push(await member(regs.all, 'service', `dep${i}`, ['log']))
    await knowsAll(deps, providers)
    return { regs, providers, deps }
  }

  it('kill -9 of a registry and a provider homed on it: the others move, a survivor declares the orphan down, nobody hears a live provider is down', async () => {
    const { regs, providers, deps } = await populated(6)

    // The registry homing the most providers (6 over 3: at least 2), so one dies with it and one moves.
    const regIds = regs.procs.map(idOf)
    const victim = regIds.map((id, i) => ({ i, n: providers.filter(p => homeOf(p) === id).length })).sort((a, b) => b.n - a.n)[0].i
    const orphan = providers.find(p => homeOf(p) === regIds[victim])!
    const moved = [...providers, ...deps].filter(p => p !== orphan && homeOf(p) === regIds[victim])
    expect(moved.length).toBeGreaterThan(0)
    const marks = new Map([...providers, ...deps].map(p => [p, p.mark()]))

    const killedAt = Date.now()
    regs.procs[victim].signal('SIGKILL')
    orphan.signal('SIGKILL')
    const times: number[] = []
    for (const p of moved) {
      const again = await p.waitFor(e => e.event === 'registered', 're-registered elsewhere', START_MS, marks.get(p))
      expect(again.registry).not.toBe(regIds[victim])
      times.push(again.ts - killedAt)
    }
    console.log(`registry kill -9 → ${moved.length} services re-registered: median ${median(times)} ms, max ${Math.max(...times)} ms`)
    // Nobody holds the orphan's stream: a survivor takes its entry over when the dead registry's lease ends, probes it, declares it down.
    const told: number[] = []
    for (const d of deps) {
      const e = await d.waitFor(e => e.event === 'provider-down' && e.peerId === idOf(orphan), 'dependent told the orphan is down', START_MS, marks.get(d))
      told.push(e.ts - killedAt)
    }
    console.log(`registry and provider kill -9 → ${deps.length} dependents told the orphan is down: median ${median(told)} ms, max ${Math.max(...told)} ms`)

    const survivors = regs.procs.filter((_, i) => i !== victim)
    // Let any wrong verdict have time to happen: several probe rounds and the lease TTL.
    await survivors[0].waitFor(e => e.event === 'never', 'a quiet while', 6_000).catch(() => {})
    for (const d of deps) expect(falseAlarms(d, marks.get(d)!, idOf(orphan)), 'no false down at a dependent').toEqual([])
    const status = await runCli(['status', '--json', '--registry', regs.addrs.find((_, i) => i !== victim)!])
    expect(status.code, status.stderr).toBe(0)
    const services = JSON.parse(status.stdout).services as Array<{ name: string, peerId: string, status: string }>
    expect(services.filter(s => s.name === 'log').map(s => s.peerId === idOf(orphan) ? `orphan:${s.status}` : s.status).sort())
      .toEqual(['orphan:down', ...Array(5).fill('up')])

    // Then kill -9 a provider whose registry lives: its dependents are told.
    const victimProvider = providers.find(p => p !== orphan)!
    const pm = new Map(deps.map(d => [d, d.mark()]))
    const providerKilledAt = Date.now()
    victimProvider.signal('SIGKILL')
    const downs: number[] = []
    for (const d of deps) {
      const e = await d.waitFor(e => e.event === 'provider-down' && e.peerId === idOf(victimProvider), 'dependent told the provider is down', START_MS, pm.get(d))
      downs.push(e.ts - providerKilledAt)
    }
    console.log(`provider kill -9 → ${deps.length} dependents told (3 registries): median ${median(downs)} ms, max ${Math.max(...downs)} ms`)
  }, 240_000)

  it('a registry back after kill -9: its services go home to it, as the same entries, and nobody hears a live provider is down', async () => {
    const { regs, providers, deps } = await populated(5)
    const members = [...providers, ...deps]
    const regIds = regs.procs.map(idOf)
    const victim = regIds.map((id, i) => ({ i, n: members.filter(p => homeOf(p) === id).length })).sort((a, b) => b.n - a.n)[0].i
    const home = regIds[victim]
    const movers = members.filter(p => homeOf(p) === home)
    expect(movers.length).toBeGreaterThan(0)
    const incarnations = async (addr: string): Promise<Map<string, number>> => {
      const status = await runCli(['status', '--json', '--registry', addr])
      expect(status.code, status.stderr).toBe(0)
      return new Map((JSON.parse(status.stdout).services as Array<{ peerId: string, incarnation: number }>).map(s => [s.peerId, s.incarnation]))
    }
    const before = await incarnations(regs.all)
    const marks = new Map(members.map(p => [p, p.mark()]))

    regs.procs[victim].signal('SIGKILL')
    for (const p of movers) {
      const away = await p.waitFor(e => e.event === 'registered', 're-registered elsewhere', START_MS, marks.get(p))
      expect(away.registry).not.toBe(home)
    }
    // The same identity (data dir) on the same address: the one the members were given.
    const back = await registry(regs.dirs[victim], regs.addrs[victim].split('/p2p/')[0])
    expect(idOf(back.proc)).toBe(home)
    const restartedAt = Date.now()
    const times: number[] = []
    for (const p of movers) {
      const e = await p.waitFor(e => e.event === 'registered' && e.registry === home, 'registered at home again', START_MS, marks.get(p))
      times.push(e.ts - restartedAt)
      expect(p.events.slice(marks.get(p)).filter(e => e.event === 'registry-home').map(e => e.registry)).toEqual([home])
    }
    console.log(`registry restarted → ${movers.length} services home again: median ${median(times)} ms, max ${Math.max(...times)} ms`)
    // Each is probed by its home registry again (its claim in etcd), the same entry (incarnation) as before.
    const client = new Etcd3({ hosts: `http://${etcd.endpoint}` })
    try {
      await eventually(async () => {
        for (const p of movers) expect(await client.get(`gds/probe/${idOf(p)}`).string()).toBe(home)
      }, START_MS, 200)
    } finally {
      client.close()
    }
    // Let any wrong verdict have time to happen: several probe rounds, a home check or two, the lease TTL.
    await back.proc.waitFor(e => e.event === 'never', 'a quiet while', 6_000).catch(() => {})
    for (const d of deps) expect(falseAlarms(d, marks.get(d)!), 'no false down at a dependent').toEqual([])
    for (const p of movers) expect(p.events.slice(marks.get(p)).filter(e => e.event === 'registered').length, 'one move away, one home: no flapping').toBe(2)
    const status = await runCli(['status', '--json', '--registry', back.addr])
    expect(status.code, status.stderr).toBe(0)
    const services = JSON.parse(status.stdout).services as Array<{ status: string, peerId: string, registry?: string }>
    expect(services.map(s => s.status)).toEqual(Array(members.length).fill('up'))
    // gds status says which registry each is on: the movers on their home again.
    for (const p of movers) expect(services.find(s => s.peerId === idOf(p))?.registry).toBe(home)
    expect(await incarnations(back.addr), 'the same entries').toEqual(before)
  }, 240_000)

  it('etcd gone for 10 s: every registry says so and keeps serving, a change made meanwhile reaches etcd when it is back', async () => {
    const regs = await registries()
    const log = await member(regs.all, 'log', 'log')
    const dep = await member(regs.all, 'service', 'dep', ['log'])
    await knowsAll([dep], [log])
    const marks = regs.procs.map(r => r.mark())
    const depMark = dep.mark()

    const killedAt = Date.now()
    await etcd.kill()
    for (const [i, r] of regs.procs.entries()) {
      await r.waitFor(e => e.event === 'store-state' && e.state === 'unreachable', 'registry says etcd is unreachable', START_MS, marks[i])
    }
    for (const addr of regs.addrs) {
      const status = await runCli(['status', '--json', '--registry', addr])
      expect(status.code, status.stderr).toBe(0)
      expect(JSON.parse(status.stdout).store).toMatchObject({ kind: 'etcd', state: 'unreachable' })
    }
    // A call: `gds logs` asks the log service, found through any registry.
    const logs = await runCli(['logs', '--json', '--registry', regs.all])
    expect(logs.code, logs.stderr).toBe(0)
    // A change while etcd is away: it waits in the registry's memory.
    const late = await member(regs.all, 'service', 'late')
    // The outage lasts 10 s whatever the checks above took: the length is the scenario, not a wait for something.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, killedAt + 10_000 - Date.now())))

    await etcd.start()
    for (const [i, r] of regs.procs.entries()) {
      await r.waitFor(e => e.event === 'store-state' && e.state === 'ok', 'registry back on etcd', START_MS, marks[i])
    }
    const client = new Etcd3({ hosts: `http://${etcd.endpoint}` })
    try {
      const deadline = Date.now() + START_MS
      let stored: string | null = null
      while (stored === null && Date.now() < deadline) {
        stored = await client.get(etcdKey('late', idOf(late))).string()
        if (stored === null) await new Promise(resolve => setTimeout(resolve, 200))
      }
      expect(JSON.parse(stored ?? '{}')).toMatchObject({ name: 'late', peerId: idOf(late), status: 'up' })
    } finally {
      client.close()
    }
    // The others hear of it through their etcd watch, a moment after it is stored.
    for (const addr of regs.addrs) {
      await eventually(async () => {
        const status = await runCli(['status', '--json', '--registry', addr])
        expect(status.code, status.stderr).toBe(0)
        const json = JSON.parse(status.stdout)
        expect(json.store).toMatchObject({ state: 'ok', pending: 0 })
        expect(json.services.map((s: any) => `${s.name}:${s.status}`).sort()).toEqual(['dep:up', 'late:up', 'log:up'])
      }, START_MS, 200)
    }
    expect(falseAlarms(dep, depMark), 'no false down at the dependent').toEqual([])
  }, 120_000)
})
