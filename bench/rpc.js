// rpc through the balancer: 2 providers, one caller node, N calls at concurrency C.
import { z } from 'zod'
import { defineMethod, defineService } from '../dist/node/service.js'
import { registryNode, serviceNode, waitUntil } from './inproc.js'
import { stats } from './lib.js'

export async function run ({ calls = Number(process.env.CALLS ?? 20_000), concurrency = Number(process.env.CONCURRENCY ?? 32) } = {}) {
  const nodes = []
  try {
    const registry = await registryNode(); nodes.push(registry)
    const echo = defineService({ name: 'echo', methods: { say: defineMethod({ params: z.object({ n: z.number() }), handler: ({ n }) => ({ n }) }) } })
    for (let i = 0; i < 2; i++) nodes.push(await serviceNode(registry, 'echo', [], [echo]))
    const caller = await serviceNode(registry, 'caller', ['echo']); nodes.push(caller)
    await waitUntil(() => caller.catalog.providersOf('echo').filter(p => p.status === 'up').length === 2, 'providers up')
    for (let i = 0; i < 500; i++) await caller.call('echo', 'say', { n: i }) // warm up both links
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
    const secs = (performance.now() - started) / 1000
    return { name: 'rpc', what: `${calls} calls through the balancer, 2 providers, concurrency ${concurrency}: ${Math.round(calls / secs)} calls/s; latency (ms)`, callsPerSec: Math.round(calls / secs), ...stats(lat), target: '≥ 10,000 calls/s, p99 ≤ 5 ms' }
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
  }
}
