// In-process nodes for benchmarks (several libp2p nodes in this one process, on 127.0.0.1).
import '../dist/polyfills.js'
import { createConfig } from '../dist/node/config.js'
import { GdsNode } from '../dist/node/node.js'
import { plainService } from '../dist/services/service/index.js'
import { registryHub } from '../dist/services/registry/index.js'
import { tempDir, loopback } from './lib.js'

export async function inprocNode (input, services = [], hub) {
  const config = createConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: tempDir(), ...input })
  const node = new GdsNode({ config, services, hub })
  const events = []
  node.on('event', e => events.push(e))
  await node.start()
  node.events = events
  return node
}

export async function registryNode (extra = {}) {
  return inprocNode({ role: 'registry', ...extra }, [], registryHub())
}

export async function serviceNode (registry, name, requires = [], services, extra = {}) {
  return inprocNode({ role: 'service', name, requires, registry: loopback({ addrs: registry.addrs }), ...extra }, services ?? [plainService(name, requires)])
}

export async function waitUntil (fn, label, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${label}: timed out`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
