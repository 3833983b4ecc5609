// A peer that floods the catalogue topic: one registered service in its own process republishes
// its own (valid, granted) announcement as fast as it can for FLOOD_MS at a cluster of SERVICES
// in-process dependents, a provider and the registry, on the default timings (heartbeat 1 s,
// timeout 500 ms). Counted: false verdicts about everyone else (the flooder's own entry aside),
// what each neighbour accepted of the flood, and what the validator dropped as over budget.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { registryNode, serviceNode, waitUntil } from './inproc.js'
import { loopback, stats } from './lib.js'

const TOPIC = 'gds/catalog/1'

export async function run ({ services = Number(process.env.SERVICES ?? 8), ms = Number(process.env.FLOOD_MS ?? 5_000) } = {}) {
  const registry = await registryNode()
  const nodes = []
  let child
  try {
    nodes.push(await serviceNode(registry, 'log'))
    for (let i = 0; i < services; i++) nodes.push(await serviceNode(registry, `dep-${i}`, ['log', 'flooder']))
    await waitUntil(() => nodes.slice(1).every(n => n.catalog.providersOf('log').some(p => p.status === 'up')), 'dependents see log up')
    child = fork(new URL('./flood-worker.js', import.meta.url), {
      env: { ...process.env, REGISTRY: loopback({ addrs: registry.addrs }), PEERS: JSON.stringify(nodes.map(n => loopback({ addrs: n.addrs }))) }
    })
    const [{ peerId: flooder }] = await once(child, 'message')
    const fromFlooder = e => e.detail.topic === TOPIC && e.detail.type === 'signed' && e.detail.from.toString() === flooder
    // Its own announcement, as a neighbour hears it. While the registry is up a member announces
    // itself only at registration, which the flooder did before it had dialled anyone: it is asked
    // to register again (now linked to the cluster) until a neighbour has heard its announcement.
    let announcement
    nodes[1].p2p.services.pubsub.addEventListener('message', e => { if (fromFlooder(e)) announcement ??= new TextDecoder().decode(e.detail.data) })
    const askAgain = setInterval(() => { if (announcement === undefined) child.send({ announce: true }) }, 2_000)
    child.send({ announce: true })
    try {
      await waitUntil(() => announcement !== undefined, 'the flooder\'s announcement heard', 45_000)
    } finally {
      clearInterval(askAgain)
    }
    const accepted = [registry, ...nodes].map(n => {
      const count = { n: 0 }
      n.p2p.services.pubsub.addEventListener('message', e => { if (fromFlooder(e)) count.n++ })
      return count
    })
    const everyone = [registry, ...nodes]
    const marks = everyone.map(n => n.events.length)
    const limitedBefore = everyone.map(n => n.gossipCounters?.limited ?? 0)
    child.send({ announcement, ms })
    const [{ sent, ms: took }] = await once(child, 'message')
    // Verdicts lag a missed beat or two: keep counting for a few heartbeats after the flood.
    await new Promise(resolve => setTimeout(resolve, 3_000))
    const verdicts = kind => everyone.reduce((a, n, i) => a + n.events.slice(marks[i]).filter(e => e.event === kind && e.peerId !== flooder).length, 0)
    return {
      name: 'gossip-flood',
      what: `one peer (own process) republishing its valid announcement as fast as it can for ${ms} ms at ${services} dependents + a provider + the registry (heartbeat 1 s / 500 ms)`,
      sent,
      perSecond: Math.round(sent / took * 1000),
      falseDown: verdicts('provider-down'),
      falseSuspect: verdicts('provider-suspect'),
      acceptedPerNeighbour: stats(accepted.map(c => c.n)),
      limited: everyone.reduce((a, n, i) => a + ((n.gossipCounters?.limited ?? 0) - limitedBefore[i]), 0)
    }
  } finally {
    child?.kill('SIGKILL')
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
    await registry.stop().catch(() => {})
  }
}
