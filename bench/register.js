// Registrations per second at the registry, by band of catalogue size.
import '../dist/polyfills.js'
import { createClientLibp2p } from '../dist/node/libp2p.js'
import { request } from '../dist/node/rpc.js'
import { MAX_REGISTRY_FRAME, REGISTRY_PROTOCOL } from '../dist/node/protocols.js'
import { registerResult } from '../dist/node/schemas.js'
import { registryNode } from './inproc.js'

export async function run ({ total = Number(process.env.ENTRIES ?? 5000), clients = Number(process.env.CLIENTS ?? 8), concurrency = 8 } = {}) {
  const registry = await registryNode({ heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 500 })
  const peers = []
  try {
    for (let i = 0; i < clients; i++) { const p = await createClientLibp2p(); await p.dial(registry.p2p.getMultiaddrs()[0]); peers.push(p) }
    const addr = registry.p2p.getMultiaddrs()[0]
    const bands = []
    let done = 0
    let bandStart = performance.now()
    let next = 0
    await Promise.all(peers.flatMap((p, c) => Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++
        await request(p, addr, REGISTRY_PROTOCOL, { op: 'register', services: [{ name: `svc-${i}`, addrs: [], incarnation: 1, seq: 0 }] }, registerResult, { maxBytes: MAX_REGISTRY_FRAME })
        if (++done % 1000 === 0) {
          const now = performance.now()
          bands.push(Math.round(1000 / ((now - bandStart) / 1000)))
          bandStart = now
        }
      }
    })))
    return { name: 'register', what: `registrations/s per 1,000-entry band up to ${total} entries (${clients} clients × ${concurrency} in flight, a stream per request); the registry probes these dial-only clients and marks them down, which is part of the load`, bands, target: '≥ 2,000/s, flat' }
  } finally {
    for (const p of peers) await p.stop()
    await registry.stop()
  }
}
