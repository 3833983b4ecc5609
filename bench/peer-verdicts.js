// Failure verdicts among peers with the registry gone (issue 13): 10 nodes, default settings.
// kill -9 of a provider → provider-down at each dependent, and SIGSTOP → told (then SIGCONT: it
// refutes and is up again). Also what one failure costs: indirect checks asked and suspicions
// published on gossip, over all nodes (from their info log lines).
import { startNode, stats, tempDir, loopback } from './lib.js'

export async function run ({ nodes: total = Number(process.env.NODES ?? 10), kills = Number(process.env.KILLS ?? 3), stops = Number(process.env.TRIALS ?? 5) } = {}) {
  const procs = []
  const counts = { indirect: 0, published: 0, verdicts: 0 }
  const start = args => {
    const n = startNode([...args, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir(), '--log-level', 'info'])
    n.child.stderr.on('data', d => {
      const text = String(d)
      counts.indirect += text.split('indirect check (no registry in reach)').length - 1
      counts.published += text.split('suspicion published on gossip').length - 1
      counts.verdicts += text.split('peers declared a provider down').length - 1
    })
    procs.push(n)
    return n
  }
  try {
    const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); procs.push(reg)
    const addr = loopback(await reg.waitFor(e => e.event === 'listening', 'registry'))
    // `kills` providers of store (one killed per trial), one of cache (stopped and resumed), the rest dependents of both.
    const stores = Array.from({ length: kills }, () => start(['--role', 'service', '--name', 'store', '--registry', addr]))
    const cache = start(['--role', 'service', '--name', 'cache', '--registry', addr])
    const deps = Array.from({ length: total - kills - 1 }, (_, i) => start(['--role', 'service', '--name', `dep${i}`, '--requires', 'store,cache', '--registry', addr]))
    const storeIds = await Promise.all(stores.map(async s => (await s.waitFor(e => e.event === 'listening', 'store')).peerId))
    const cacheId = (await cache.waitFor(e => e.event === 'listening', 'cache')).peerId
    // Each dependent holds each provider up: told by an event, or in its registration's answer.
    const holds = id => e => (e.event === 'provider-up' && e.peerId === id) || (e.event === 'registered' && e.providers.some(p => p.peerId === id && p.status === 'up'))
    for (const [i, d] of deps.entries()) {
      for (const id of [...storeIds, cacheId]) {
        await d.waitFor(holds(id), 'up', 60_000).catch(err => { throw new Error(`dep${i} never held ${id}: ${d.events.map(e => e.event).join(',')}`, { cause: err }) })
      }
    }
    // Let every announcement land (each node then holds every other: members may accuse and be asked).
    await new Promise(resolve => setTimeout(resolve, 3_000))
    reg.child.kill('SIGKILL')
    for (const n of procs.slice(1)) await n.waitFor(e => e.event === 'registry-lost', 'registry-lost', 20_000)

    const killed = []
    const killCost = []
    for (const [i, s] of stores.entries()) {
      const marks = deps.map(d => d.mark())
      const before = { ...counts }
      const at = Date.now()
      s.child.kill('SIGKILL')
      const downs = await Promise.all(deps.map((d, j) => d.waitFor(e => e.event === 'provider-down' && e.peerId === storeIds[i], 'store down', 20_000, marks[j])))
      for (const e of downs) killed.push(e.ts - at)
      await s.exited
      // Quiet again (the last verdicts' gossip delivered) before the next trial.
      await new Promise(resolve => setTimeout(resolve, 2_000))
      killCost.push({ indirect: counts.indirect - before.indirect, published: counts.published - before.published, verdicts: counts.verdicts - before.verdicts })
    }
    const stopped = []
    const stopCost = []
    for (let t = 0; t < stops; t++) {
      const marks = deps.map(d => d.mark())
      // Land the stop at a random point of the beat.
      await new Promise(resolve => setTimeout(resolve, Math.random() * 1000))
      const before = { ...counts }
      const at = Date.now()
      cache.child.kill('SIGSTOP')
      try {
        const downs = await Promise.all(deps.map((d, j) => d.waitFor(e => e.event === 'provider-down' && e.peerId === cacheId, 'cache down', 20_000, marks[j])))
        for (const e of downs) stopped.push(e.ts - at)
      } finally {
        cache.child.kill('SIGCONT')
      }
      await Promise.all(deps.map((d, j) => d.waitFor(e => e.event === 'provider-up' && e.peerId === cacheId, 'cache up again', 20_000, marks[j])))
      await new Promise(resolve => setTimeout(resolve, 2_000))
      stopCost.push({ indirect: counts.indirect - before.indirect, published: counts.published - before.published, verdicts: counts.verdicts - before.verdicts })
    }
    return [
      { name: 'peer-verdicts-kill9', what: `registry gone, ${total} nodes, defaults: kill -9 of a provider → provider-down via peers at each of ${deps.length} dependents (ms)`, trials: kills, ...stats(killed), target: 'median ≤ 1000 ms', costPerFailure: killCost },
      { name: 'peer-verdicts-sigstop', what: `registry gone, ${total} nodes, defaults: SIGSTOP of a provider → provider-down via peers at each of ${deps.length} dependents (ms)`, trials: stops, ...stats(stopped), target: '≤ 3000 ms', costPerFailure: stopCost }
    ]
  } finally {
    await Promise.all(procs.map(n => n.stop()))
  }
}
