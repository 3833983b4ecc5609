// Registrations per second at a registry running as its own process, by band of catalogue size.
// The registering peers live in child processes, answer heartbeats (nothing is marked down by
// accident) and send their requests over one multiplexed stream each.
import { MAX_NAMES_PER_PEER } from '../dist/node/protocols.js'
import { procStats, startPeers, startRegistry } from './peer-pool.js'

// One peer holds at most MAX_NAMES_PER_PEER names, so the default is enough peers for the total,
// in each process (each deals its half of the names to its own peers).
export async function run ({ total = Number(process.env.ENTRIES ?? 10_000), processes = Number(process.env.PROCS ?? 2), peers = Number(process.env.PEERS ?? processes * Math.ceil(total / processes / MAX_NAMES_PER_PEER)), concurrency = Number(process.env.CONCURRENCY ?? 8) } = {}) {
  const registry = await startRegistry()
  let pool
  try {
    pool = await startPeers(registry.addr, peers, processes)
    const bands = []
    // How busy the registry was in each band: near 100 % means it, not the peers, set the pace.
    const registryCpuPct = []
    let failed = 0
    // Refusals by error code: a limit reached is named, never an unexplained count.
    const errors = {}
    for (let from = 0; from < total; from += 1000) {
      const names = Array.from({ length: Math.min(1000, total - from) }, (_, i) => `svc-${from + i}`)
      const started = performance.now()
      const before = procStats(registry.pid)
      // Each child takes every n-th name of the band.
      const out = await pool.all('register', c => ({ names: names.filter((_, j) => j % processes === c), concurrency }))
      const secs = (performance.now() - started) / 1000
      const after = procStats(registry.pid)
      bands.push(Math.round(names.length / secs))
      registryCpuPct.push(Math.round((after.userSec + after.systemSec - before.userSec - before.systemSec) / secs * 100))
      for (const o of out) {
        failed += o.failed
        for (const [code, n] of Object.entries(o.errors)) errors[code] = (errors[code] ?? 0) + n
      }
    }
    const [{ entries, byStatus }] = await pool.children[0].call('list').then(r => [r])
    return {
      name: 'register',
      what: `registrations/s per 1,000-entry band up to ${total} entries; registry in its own process, ${peers} peers in ${processes} processes × ${concurrency} in flight each, one multiplexed stream per peer, peers answer heartbeats`,
      bands,
      registryCpuPct,
      failed,
      errors,
      catalogue: { entries, byStatus },
      target: '≥ 2,000/s, flat'
    }
  } finally {
    await pool?.stop()
    await registry.stop()
  }
}
