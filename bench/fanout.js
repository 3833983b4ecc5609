// One change → N dependents: over the hub (registry's event → each dependent's event), and over
// gossip alone (registry stopped; a provider's graceful leave → each dependent's event).
import { inprocNode, registryNode, serviceNode, waitUntil } from './inproc.js'
import { stats } from './lib.js'

export async function run ({ dependents = Number(process.env.DEPENDENTS ?? 50), trials = Number(process.env.TRIALS ?? 10) } = {}) {
  const nodes = []
  try {
    const registry = await registryNode(); nodes.push(registry)
    const deps = []
    for (let i = 0; i < dependents; i++) { const d = await serviceNode(registry, `dep${i}`, ['log']); nodes.push(d); deps.push(d) }
    const hub = []
    const viaHub = { hub: 0, gossip: 0 }
    for (let t = 0; t < trials; t++) {
      const log = await serviceNode(registry, 'log'); nodes.push(log)
      const id = log.peerId
      await waitUntil(() => deps.every(d => d.catalog.get('log', id)?.status === 'up'), 'all up', 30_000)
        .catch(err => { throw new Error(`${err.message} (trial ${t}): registry saw ${registry.events.filter(e => e.event === 'provider-suspect' || e.event === 'provider-down').filter(e => e.name.startsWith('dep')).length} suspect/down verdicts on dependents; not up at ${deps.filter(d => d.catalog.get('log', id)?.status !== 'up').length}`) })
      const marks = deps.map(d => d.events.length)
      const regMark = registry.events.length
      await log.stop()
      await waitUntil(() => deps.every((d, i) => d.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.peerId === id)), 'all told', 30_000)
        .catch(err => { throw new Error(`${err.message} (trial ${t}): missing ${deps.filter((d, i) => !d.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.peerId === id)).map(d => `${d.config.name}:${d.catalog.get('log', id)?.status ?? '-'}`).slice(0, 3).join(' ')}; one: ${JSON.stringify(deps.find((d, i) => !d.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.peerId === id)).events.slice(-4).map(e => [e.event, e.via, e.reason, e.peerId?.slice(-4)]))}; registry: ${JSON.stringify(registry.events.slice(-3).map(e => [e.event, e.reason, e.peerId?.slice(-4)]))} id ${id.slice(-4)}`) })
      const at = registry.events.slice(regMark).find(e => e.event === 'provider-down' && e.peerId === id).ts
      deps.forEach((d, i) => {
        const e = d.events.slice(marks[i]).find(e => e.event === 'provider-down' && e.peerId === id)
        hub.push(e.ts - at); viaHub[e.via]++
      })
    }
    // Gossip alone: no registry. Each trial: a new provider joins through a dependent, then leaves.
    await registry.stop()
    const gossip = []
    let messages = 0
    for (let t = 0; t < trials; t++) {
      const log = await inprocNode({ role: 'service', name: 'log', registry: registry.addrs[0], bootstrap: [deps[t % deps.length].addrs[0]] },
        [(await import('../dist/services/service/index.js')).plainService('log', [])]); nodes.push(log)
      const id = log.peerId
      await waitUntil(() => deps.every(d => d.catalog.get('log', id)?.status === 'up'), 'all up over gossip', 60_000)
      const before = deps.reduce((n, d) => n + d.gossipCounters.accepted, 0)
      const marks = deps.map(d => d.events.length)
      const stoppedAt = Date.now()
      await log.stop()
      await waitUntil(() => deps.every((d, i) => d.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.peerId === id)), 'all told over gossip', 30_000)
        .catch(err => { throw new Error(`${err.message}: told ${deps.filter((d, i) => d.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.peerId === id)).length} of ${deps.length}; statuses ${deps.map(d => d.catalog.get('log', id)?.status ?? '-').join(',')}`) })
      deps.forEach((d, i) => gossip.push(d.events.slice(marks[i]).find(e => e.event === 'provider-down' && e.peerId === id).ts - stoppedAt))
      messages += deps.reduce((n, d) => n + d.gossipCounters.accepted, 0) - before
    }
    return [
      { name: 'fanout-hub', what: `one change → ${dependents} dependents, registry's verdict → each dependent told (ms); first arrival hub ${viaHub.hub}, gossip ${viaHub.gossip}`, trials, ...stats(hub), target: 'p99 ≤ 20 ms' },
      { name: 'fanout-gossip', what: `one change → ${dependents} dependents over gossip alone (registry down; leave → each told, ms); ${Math.round(messages / trials)} gossip deliveries accepted per change across all dependents (≥1 per dependent)`, trials, ...stats(gossip), target: 'p99 ≤ 150 ms' }
    ]
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
  }
}
