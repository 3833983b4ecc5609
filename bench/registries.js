// Several registries on one etcd (issue 14's figures), all real processes, loopback only:
// (i) what 1,000 services per registry at 1 Hz cost each of three registries on etcd vs one
//     registry with 1,000 on its data dir (CPU % of one core over a steady window, RSS), the
//     services being lightweight peers (bench/peers.js) registered with one registry each;
// (ii) one change → DEPENDENTS dependents spread over the three registries (bench/fanout-worker.js,
//     each homed by its peer id): the owner registry's verdict → each dependent told, p50/p99;
//     and provider kill -9 → each dependent told;
// (iii) kill -9 of the registry homing the most dependents → each of them registered elsewhere.
// Without etcd on PATH it says so and returns no figures.
import { fileURLToPath } from 'node:url'
import { findEtcd, startLocalEtcd } from '../dist/cluster/etcd.js'
import { loopback, startNode, startProcess, stats, tempDir } from './lib.js'
import { cpuOver, startPeers, startRegistry } from './peer-pool.js'

const WORKER = fileURLToPath(new URL('./fanout-worker.js', import.meta.url))
/** Slow beats, as in bench/fanout.js: 50 nodes on 2 shared cores would otherwise see false verdicts, and their refutations, instead of the fan-out. */
const BEATS = ['--heartbeat-interval', '2000', '--heartbeat-timeout', '1500', '--failure-threshold', '3']

export async function run ({
  services = Number(process.env.SERVICES ?? 1000), processes = Number(process.env.PROCS ?? 4), windowS = Number(process.env.WINDOW_S ?? 20), settleS = Number(process.env.SETTLE_S ?? 5),
  workers = Number(process.env.WORKERS ?? 5), perWorker = Number(process.env.PER_WORKER ?? 10), trials = Number(process.env.TRIALS ?? 4),
  // PARTS=heartbeat or PARTS=fanout runs one half (the fan-out half gives the kill -9 figures too).
  parts = (process.env.PARTS ?? 'heartbeat,fanout').split(',')
} = {}) {
  if (findEtcd() === undefined) {
    console.error('registries: skipped, no etcd on PATH (apt-get install etcd-server)')
    return []
  }
  const rows = []
  if (parts.includes('heartbeat')) {
    const one = await heartbeatCost(1, services, processes, windowS, settleS)
    const three = await heartbeatCost(3, services, processes, windowS, settleS)
    const per = rs => rs.map(r => `${r.cpuPct} % / ${r.rssMiB} MiB`).join(', ')
    rows.push({
      name: 'registries-heartbeat',
      what: `1 Hz heartbeats: ${3 * services} services over 3 registries on etcd (${services} each) vs ${services} on one registry on its data dir; registry CPU (% of one core, over ${windowS} s) / RSS: three ${per(three)}; one ${per(one)}`,
      three, one,
      target: 'three registries carry three times the services, each at about the cost of one (≤ 10 % of a core per 1,000)'
    })
  }
  if (!parts.includes('fanout')) return rows
  const fan = await fanOut(workers * perWorker, workers, perWorker, trials)
  return [
    ...rows,
    { name: 'registries-fanout', what: `one change → ${fan.dependents} dependents spread over 3 registries on etcd (${JSON.stringify(fan.homes)} per registry): owner registry's verdict → each told (ms), joins and kill -9`, trials, ...stats(fan.told), target: 'p99 ≤ 20 ms (one registry\'s target)' },
    { name: 'registries-provider-kill9', what: `provider kill -9 → each of ${fan.dependents} dependents told, 3 registries on etcd (ms)`, trials: Math.ceil(trials / 2), ...stats(fan.killToTold), target: 'the single-registry targets (bench kill9)' },
    { name: 'registries-registry-kill9', what: `registry kill -9 → each of its ${fan.moved.length} dependents registered with another registry (ms)`, ...stats(fan.moved), target: 'within a second' },
    { name: 'registries-registry-kill9-seen', what: `registry kill -9 → each of its ${fan.seen.length} dependents saw the registry lost (ms)`, ...stats(fan.seen), target: 'part of the second above' },
    { name: 'registries-registry-kill9-move', what: `registry lost → each of its ${fan.move.length} dependents registered with another registry (ms)`, ...stats(fan.move), target: 'part of the second above' }
  ]
}

/** `count` registries (on one local etcd when more than one), `services` lightweight peers on each: their CPU and RSS in steady state. */
async function heartbeatCost (count, services, processes, windowS, settleS) {
  const etcd = count > 1 ? await startLocalEtcd(tempDir()) : undefined
  const store = etcd === undefined ? [] : ['--store', `etcd://${etcd.endpoint}`]
  const registries = []
  const pools = []
  try {
    for (let i = 0; i < count; i++) registries.push(await startRegistry(['--heartbeat-interval', '1000', ...store]))
    for (const [i, r] of registries.entries()) {
      const pool = await startPeers(r.addr, services, processes)
      pools.push(pool)
      const registered = await pool.all('register', c => ({ names: [], perPeer: `hb${i}-${c}`, concurrency: 1 }))
      if (registered.some(x => x.failed > 0)) throw new Error('some registrations failed')
    }
    await new Promise(resolve => setTimeout(resolve, settleS * 1000))
    const costs = await cpuOver(registries.map(r => r.pid), windowS)
    const { entries, byStatus } = await pools[0].children[0].call('list')
    return costs.map(({ cpuPct, rssMiB }) => ({ cpuPct, rssMiB, entries, byStatus }))
  } finally {
    await Promise.all(pools.map(async p => p.stop()))
    await Promise.all(registries.map(async r => r.stop()))
    await etcd?.stop()
  }
}

/** Three registries on etcd, `dependents` dependents over them; providers join and leave, then a registry is killed. */
async function fanOut (dependents, workers, perWorker, trials) {
  const etcd = await startLocalEtcd(tempDir())
  const procs = []
  try {
    const regs = []
    for (let i = 0; i < 3; i++) {
      const reg = startNode(['--role', 'registry', '--store', `etcd://${etcd.endpoint}`, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir(), ...BEATS])
      procs.push(reg)
      regs.push({ proc: reg, addr: loopback(await reg.waitFor(e => e.event === 'listening', 'registry')) })
    }
    const all = regs.map(r => r.addr).join(',')
    const pool = Array.from({ length: workers }, (_, w) => startProcess([WORKER], { REGISTRY: all, FIRST: String(w * perWorker), COUNT: String(perWorker) }))
    procs.push(...pool)
    const deps = pool.flatMap((p, w) => Array.from({ length: perWorker }, (_, i) => ({ proc: p, dep: w * perWorker + i })))
    for (const d of deps) d.registry = (await d.proc.waitFor(e => e.dep === d.dep && e.event === 'registered', `dependent ${d.dep} registered`, 120_000)).registry
    const regIds = await Promise.all(regs.map(async r => (await r.proc.waitFor(e => e.event === 'listening', 'registry')).peerId))
    const homes = regIds.map(id => deps.filter(d => d.registry === id).length)

    const markAll = () => new Map(pool.map(p => [p, p.mark()]))
    const told = async (marks, match, label) => Promise.all(deps.map(async d => d.proc.waitFor(e => e.dep === d.dep && match(e), `${label} at dependent ${d.dep}`, 30_000, marks.get(d.proc))))
    /** The first of the registries to say it: the one probing the provider; the others hear it through etcd. */
    const verdict = async (marks, match, label) => {
      const seen = await Promise.any(regs.map(async (r, i) => r.proc.waitFor(match, label, 30_000, marks[i])))
      return Math.min(...regs.flatMap((r, i) => r.proc.events.slice(marks[i]).filter(match).map(e => e.ts)), seen.ts)
    }
    const result = { dependents, homes, told: [], killToTold: [], moved: [], seen: [], move: [] }
    // Trial 0 warms up and is not counted; even trials end with kill -9, odd ones with a graceful leave.
    for (let t = 0; t <= trials; t++) {
      const keep = xs => t > 0 ? xs : []
      let marks = markAll()
      let regMarks = regs.map(r => r.proc.mark())
      const prov = startNode(['--role', 'service', '--name', 'log', '--registry', all, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir(), ...BEATS])
      procs.push(prov)
      const id = (await prov.waitFor(e => e.event === 'listening', 'provider')).peerId
      const upAt = await verdict(regMarks, e => e.event === 'provider-up' && e.peerId === id, 'registry: provider up')
      result.told.push(...keep((await told(marks, e => e.event === 'provider-up' && e.peerId === id, 'provider-up')).map(e => e.ts - upAt)))
      marks = markAll()
      regMarks = regs.map(r => r.proc.mark())
      const kill = t % 2 === 0
      const at = Date.now()
      prov.child.kill(kill ? 'SIGKILL' : 'SIGINT')
      const downAt = await verdict(regMarks, e => e.event === 'provider-down' && e.peerId === id, 'registry: provider down')
      const downs = await told(marks, e => e.event === 'provider-down' && e.peerId === id, 'provider-down')
      result.told.push(...keep(downs.map(e => e.ts - downAt)))
      if (kill) result.killToTold.push(...keep(downs.map(e => e.ts - at)))
      await prov.stop()
    }
    // Where each is registered now (a loaded machine may have moved some meanwhile).
    const homeNow = d => d.proc.events.filter(e => e.dep === d.dep && e.event === 'registered').at(-1).registry
    const now = regIds.map(id => deps.filter(d => homeNow(d) === id).length)
    const victim = now.indexOf(Math.max(...now))
    const moving = deps.filter(d => homeNow(d) === regIds[victim])
    const marks = markAll()
    const killedAt = Date.now()
    regs[victim].proc.child.kill('SIGKILL')
    for (const d of moving) {
      const again = await d.proc.waitFor(e => e.dep === d.dep && e.event === 'registered', `dependent ${d.dep} re-registered`, 30_000, marks.get(d.proc))
      result.moved.push(again.ts - killedAt)
      // Where the time went: the loss seen (kill → registry-lost), then the move (registry-lost → registered).
      const lost = d.proc.events.slice(marks.get(d.proc)).find(e => e.dep === d.dep && e.event === 'registry-lost')
      if (lost !== undefined) {
        result.seen.push(lost.ts - killedAt)
        result.move.push(again.ts - lost.ts)
      }
    }
    return result
  } finally {
    await Promise.all(procs.map(async p => p.stop()))
    await etcd.stop()
  }
}
