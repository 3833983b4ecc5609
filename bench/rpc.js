// rpc through the balancer: 2 providers, each a real process (bench/echo-service.js), the registry
// a real process, the caller a node in this process; N calls at each concurrency level.
// PROFILE=dir writes CPU profiles of the providers (on exit) into dir.
import { serviceNode, waitUntil } from './inproc.js'
import { loopback, startNode, stats, tempDir } from './lib.js'

const ECHO = new URL('./echo-service.js', import.meta.url).pathname

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
    for (const concurrency of levels) {
      const lat = []
      let next = 0
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
      out.push({ name: `rpc-c${concurrency}`, what: `${calls} calls through the balancer, 2 provider processes, caller in the bench process, concurrency ${concurrency}: ${perSec} calls/s; latency (ms)`, callsPerSec: perSec, ...stats(lat), target: '≥ 30,000 calls/s, p99 ≤ 4 ms (at 32)' })
    }
    return out
  } finally {
    await caller?.stop().catch(() => {})
    await Promise.all(procs.map(p => p.stop()))
  }
}
