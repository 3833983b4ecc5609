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
    const connectStarted = performance.now()
    pool = await startPeers(registry.addr, peers, processes)
    const connected = { peers, perSec: Math.round(peers / ((performance.now() - connectStarted) / 1000)) }
    // Connect first, then register: every peer is connected (startPeers) and has opened its
    // registry stream (one lookup each) before the first band, so the bands time registrations
    // only. A peer's first request costs the registry an inbound stream (protocol negotiation, a
    // peer-store write, yamux and logger set-up): with 250 peers, band 1 cost the registry 1.3–1.6
    // ms of CPU a registration with the streams opened in it, 0.75–0.9 ms with them opened
    // before (as bands 2–4). The rates of both steps are reported apart: `connected` (25 dials
    // at a time per process) and `opened`.
    const openStarted = performance.now()
    await pool.all('open')
    const opened = { streams: peers, perSec: Math.round(peers / ((performance.now() - openStarted) / 1000)) }
    const bands = []
    // How busy the registry was in each band: near 100 % means it, not the peers, set the pace.
    const registryCpuPct = []
    // Registry CPU per registration in each band (µs): compares builds on a loaded host, where the
    // rate mostly says how busy the neighbours were.
    const registryCpuUs = []
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
      const cpuSec = after.userSec + after.systemSec - before.userSec - before.systemSec
      registryCpuPct.push(Math.round(cpuSec / secs * 100))
      registryCpuUs.push(Math.round(cpuSec * 1e6 / names.length))
      for (const o of out) {
        failed += o.failed
        for (const [code, n] of Object.entries(o.errors)) errors[code] = (errors[code] ?? 0) + n
      }
    }
    const [{ entries, byStatus }] = await pool.children[0].call('list').then(r => [r])
    return {
      name: 'register',
      what: `registrations/s per 1,000-entry band up to ${total} entries; registry in its own process, ${peers} peers in ${processes} processes × ${concurrency} in flight each, one multiplexed stream per peer (opened before the bands), peers answer heartbeats`,
      bands,
      registryCpuPct,
      registryCpuUs,
      connected,
      opened,
      failed,
      errors,
      catalogue: { entries, byStatus },
      target: '≥ 3,000/s in every 1,000-entry band'
    }
  } finally {
    await pool?.stop()
    await registry.stop()
  }
}
