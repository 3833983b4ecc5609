// What one change costs on the gossip path: 10 in-process service nodes, the registry gone, one
// provider leaves gracefully; every gossipsub RPC each node receives on gds/catalog/1 is counted
// (data copies, and IHAVE/IWANT control), and how many copies each node accepted. The copies are
// also counted by what they say (suspicions, `up` announcements such as refutations, leaves,
// patches), in the window and in the seconds after the registry went before it (`settling`).
import { registryNode, serviceNode, waitUntil } from './inproc.js'

const TOPIC = 'gds/catalog/1'

/** What a catalogue message says: its kind, and an announcement's status. */
function kindOf (data) {
  try {
    const m = JSON.parse(Buffer.from(data).toString())
    return m.kind === 'announce' ? `announce-${m.records?.[0]?.status}` : String(m.kind)
  } catch { return 'undecodable' }
}

export async function run ({ dependents = Number(process.env.DEPENDENTS ?? 9) } = {}) {
  const registry = await registryNode()
  const nodes = []
  try {
    for (let i = 0; i < dependents; i++) nodes.push(await serviceNode(registry, `dep-${i}`, ['log']))
    const provider = await serviceNode(registry, 'log')
    await waitUntil(() => nodes.every(n => n.catalog.providersOf('log').some(p => p.status === 'up')), 'dependents see log up')
    const phases = { settling: {}, window: {} }
    let phase = phases.settling
    const counts = nodes.map(() => ({ copies: 0, ihave: 0, iwant: 0 }))
    nodes.forEach((n, i) => {
      const ps = n.p2p.services.pubsub
      const original = ps.handleReceivedRpc.bind(ps)
      ps.handleReceivedRpc = async (from, rpc) => {
        const copies = (rpc.messages ?? []).filter(m => m.topic === TOPIC)
        for (const m of copies) { const k = kindOf(m.data); phase[k] = (phase[k] ?? 0) + 1 }
        if (phase === phases.window) {
          counts[i].copies += copies.length
          counts[i].ihave += (rpc.control?.ihave ?? []).filter(c => c.topicID === TOPIC).reduce((a, c) => a + c.messageIDs.length, 0)
          counts[i].iwant += (rpc.control?.iwant ?? []).reduce((a, c) => a + c.messageIDs.length, 0)
        }
        return original(from, rpc)
      }
    })
    await registry.stop()
    await waitUntil(() => nodes.every(n => n.p2p.getConnections().length >= 2), 'mesh without the registry')
    // Let membership settle: re-announcements after the registry left are not this change.
    await new Promise(resolve => setTimeout(resolve, 3_000))
    phase = phases.window
    const marks = nodes.map(n => n.events.length)
    // For a failure: what each dependent held, and whether the leaver had anyone to tell.
    const before = nodes.map(n => n.catalog.providersOf('log').map(r => `${r.status}/${r.seq}`).join(','))
    const links = `${provider.p2p.getConnections().length} connections, ${provider.p2p.services.pubsub.getSubscribers(TOPIC).length} subscribers`
    await provider.stop()
    await waitUntil(() => nodes.every((n, i) => n.events.slice(marks[i]).some(e => e.event === 'provider-down' && e.name === 'log')), 'every dependent told', 10_000).catch(err => {
      const missing = nodes.map((n, i) => [i, before[i], n.catalog.providersOf('log').map(r => `${r.status}/${r.seq}`).join(','), n.gossipCounters]).filter(([i]) => !nodes[i].events.slice(marks[i]).some(e => e.event === 'provider-down'))
      throw new Error(`${err.message}: the leaver had ${links}; not told [dependent, log before, log now, gossip counters]: ${JSON.stringify(missing)}`)
    })
    await new Promise(resolve => setTimeout(resolve, 2_000)) // IHAVE gossip rides the next heartbeats
    const accepted = nodes.map((n, i) => n.events.slice(marks[i]).filter(e => e.event === 'provider-down' && e.name === 'log').length)
    const sum = k => counts.reduce((a, c) => a + c[k], 0)
    return {
      name: 'gossip-cost',
      what: `one graceful leave, ${dependents} dependents + the leaver (10 nodes), registry gone: gossipsub copies received across all nodes on ${TOPIC}`,
      copies: sum('copies'), perNode: Math.round(sum('copies') / dependents * 10) / 10, ihave: sum('ihave'), iwant: sum('iwant'),
      acceptedPerNode: [...new Set(accepted)],
      byKind: phases
    }
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
    await registry.stop().catch(() => {})
  }
}
