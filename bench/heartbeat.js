// What 1,000 services heartbeating at 1 Hz cost the registry: its process's CPU (utime + stime
// from /proc over a steady-state window) as % of one core, and its RSS. The services are
// lightweight peers in child processes that register one name each and heartbeat as a service
// does (pushing beats; answering the probes that come when one is late).
import { setTimeout as delay } from 'node:timers/promises'
import { cpuOver, startPeers, startRegistry } from './peer-pool.js'

export async function run ({ services = Number(process.env.SERVICES ?? 1000), processes = Number(process.env.PROCS ?? 4), windowS = Number(process.env.WINDOW_S ?? 20), settleS = Number(process.env.SETTLE_S ?? 5) } = {}) {
  const registry = await startRegistry(['--heartbeat-interval', '1000'])
  let pool
  try {
    pool = await startPeers(registry.addr, services, processes)
    // One name per peer: each child's peers register their own.
    const registered = await pool.all('register', c => ({ names: [], perPeer: `hb-${c}`, concurrency: 1 }))
    if (registered.some(r => r.failed > 0)) throw new Error('some registrations failed')
    // The window starts once the registry holds a heartbeat stream to every peer: on a loaded
    // host opening them takes seconds (each attempt bounded by a probe's deadline), and their
    // retries would be counted as the steady state.
    const deadline = Date.now() + 120_000
    for (;;) {
      const open = (await pool.all('counts')).reduce((n, c) => n + c.streams, 0)
      if (open >= services) break
      if (Date.now() > deadline) throw new Error(`only ${open} of ${services} heartbeat streams open after 120 s`)
      await delay(500)
    }
    await delay(settleS * 1000)
    const counts = async () => (await pool.all('counts')).reduce((n, c) => ({ heartbeats: n.heartbeats + c.heartbeats, heard: n.heard + c.heard }), { heartbeats: 0, heard: 0 })
    const before = await counts()
    const [{ cpuPct, userPct, systemPct, rssMiB, secs }] = await cpuOver([registry.pid], windowS)
    const after = await counts()
    const [{ entries, byStatus }] = [await pool.children[0].call('list')]
    return {
      name: 'heartbeat',
      what: `${services} services heartbeating at 1 Hz (${processes} peer processes), registry process CPU over ${windowS} s of steady state: ${cpuPct} % of one core (user ${userPct} + system ${systemPct}), RSS ${rssMiB} MiB`,
      cpuPct,
      userPct,
      systemPct,
      rssMiB,
      // Acks and pushed beats: one per service per second either way.
      heartbeatsPerSec: Math.round((after.heartbeats - before.heartbeats) / secs),
      // What the registry wrote on the heartbeat streams: probes, and echoes of beats.
      registryFramesPerSec: Math.round((after.heard - before.heard) / secs),
      catalogue: { entries, byStatus },
      target: '≤ 10 % of one core'
    }
  } finally {
    await pool?.stop()
    await registry.stop()
  }
}
