// A child process of bench/fanout.js: COUNT dependent nodes (each requires `log`) in this one
// process. Prints one JSON line per node event, tagged with the node's index; each event has `ts`
// (Date.now() of this machine, comparable across processes). SIGUSR2 prints gossip counters;
// SIGINT stops the nodes and exits.
import { serviceNode } from './inproc.js'
import { cleanup } from './lib.js'

const TOPIC = 'gds/catalog/1'
const [registry, first, count] = [process.env.REGISTRY, Number(process.env.FIRST), Number(process.env.COUNT)]
const out = (dep, e) => { process.stdout.write(JSON.stringify({ dep, ...e }) + '\n') }
const nodes = []
// SIGUSR2: each node's gossip counters (what it verified, applied, already had), and its links:
// its gossipsub mesh on the catalogue topic, the topic peers it knows, its connections.
const links = p2p => ({ mesh: p2p.services.pubsub.getMeshPeers(TOPIC).length, topicPeers: p2p.services.pubsub.getSubscribers(TOPIC).length, connections: p2p.getConnections().length })
// FANOUT_DEBUG: why each node's connections closed (by whom, and the error if any), since start.
const closes = nodes => {
  const tally = {}
  nodes.p2p.addEventListener('connection:open', ({ detail: conn }) => {
    conn.addEventListener('close', e => { const k = `${e.local ? 'local' : 'remote'}:${e.error?.name ?? 'none'}:${String(e.error?.message ?? '').slice(0, 60)}`; tally[k] = (tally[k] ?? 0) + 1 })
  })
  return tally
}
const tallies = []
process.on('SIGUSR2', () => { for (const [k, n] of nodes.entries()) out(first + k, { event: 'gossip-counters', ...n.gossipCounters, ...links(n.p2p), ...(process.env.FANOUT_DEBUG ? { closes: tallies[k] } : {}), ts: Date.now() }) })
for (let i = first; i < first + count; i++) {
  const n = await serviceNode({ addrs: [registry] }, `dep${i}`, ['log'])
  n.on('event', e => out(i, e))
  nodes.push(n)
  if (process.env.FANOUT_DEBUG) tallies.push(closes(n))
  out(i, { event: 'dependent-ready', peerId: n.peerId, addrs: n.addrs, ts: Date.now() })
}
process.once('SIGINT', async () => {
  await Promise.all(nodes.map(n => n.stop().catch(() => {})))
  cleanup()
  process.exit(0)
})
