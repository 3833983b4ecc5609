// rpc through the balancer: 2 providers, each a real process (bench/echo-service.js), the registry
// a real process, the caller a node in this process; N calls at each concurrency level.
// PROFILE=dir writes CPU profiles of the providers (on exit) into dir.
import { readFileSync } from 'node:fs'
import { serviceNode, waitUntil } from './inproc.js'
import { loopback, startNode, stats, tempDir } from './lib.js'
import { procStats } from './peer-pool.js'

const ECHO = new URL('./echo-service.js', import.meta.url).pathname

/**
 * CPU seconds and write syscalls of a process so far: per call, they compare two builds on a
 * loaded host, where latency and calls/s mostly say how busy the neighbours were.
 */
function counters (pid) {
  const { userSec, systemSec } = procStats(pid)
  const writes = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  return { cpuSec: userSec + systemSec, writes: Number(writes?.[1] ?? NaN) }
}

export async function run ({ calls = Number(process.env.CALLS ?? 20_000), levels = (process.env.CONCURRENCY ?? '8,32,64').split(',').map(Number) } = {}) {
  const procs = []
  let caller
  try {
    const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); procs.push(reg)
    const addr = loopback(await reg.waitFor(e => e.event === 'listening', 'registry'))
    const nodeArgs = process.env.PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.PROFILE}`] : []
    for (let i = 0; i < 2; i++) {
      const p = startNode(['--role', ECHO, '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()], nodeArgs); procs.push(p)
      await p.waitFor(e => e.event === 'registered', 'provider registered')
    }
    caller = await serviceNode({ addrs: [addr] }, 'caller', ['echo'])
    await waitUntil(() => caller.catalog.providersOf('echo').filter(p => p.status === 'up').length === 2, 'providers up')
    for (let i = 0; i < 2000; i++) await caller.call('echo', 'say', { n: i }) // warm up both links and the JIT
    const out = []
    const pids = [process.pid, procs[1].child.pid, procs[2].child.pid]
    for (const concurrency of levels) {
      const lat = []
      let next = 0
      const before = pids.map(counters)
      const started = performance.now()
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const i = next++
          const t = performance.now()
          await caller.call('echo', 'say', { n: i })
          lat.push(performance.now() - t)
        }
      }))
      const perSec = Math.round(calls / ((performance.now() - started) / 1000))
      const perCall = pids.map(counters).map((c, i) => ({ cpuUs: Math.round((c.cpuSec - before[i].cpuSec) * 1e6 / calls), writes: Math.round((c.writes - before[i].writes) * 1000 / calls) / 1000 }))
      const [callerCost, ...providerCost] = perCall
      out.push({ name: `rpc-c${concurrency}`, what: `${calls} calls through the balancer, 2 provider processes, caller in the bench process, concurrency ${concurrency}: ${perSec} calls/s; per call: caller ${callerCost.cpuUs} µs CPU and ${callerCost.writes} write syscalls, providers ${providerCost.map(p => p.cpuUs).join(' / ')} µs and ${providerCost.map(p => p.writes).join(' / ')}; latency (ms)`, callsPerSec: perSec, perCall: { caller: callerCost, providers: providerCost }, ...stats(lat), target: '≥ 30,000 calls/s, p99 ≤ 4 ms (at 32)' })
    }
    return out
  } finally {
    await caller?.stop().catch(() => {})
    await Promise.all(procs.map(p => p.stop()))
  }
}
