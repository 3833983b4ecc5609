import { afterEach, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/node/client.js'
import { WatchController, type Snapshot } from '../../src/ui/controller.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster } from '../helpers/nodes.js'

describe('the TUI data controller against a real cluster', () => {
  const cluster = new TestCluster()
  let controller: WatchController | undefined
  afterEach(async () => {
    controller?.stop()
    await cluster.stopAll()
  })

  it('follows the registry, shows a kill, and falls back to a peer\'s view when the registry is gone', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const demo = await cluster.service(registry, 'demo', ['log'])
    await cluster.waitFor(demo, e => e.event === 'provider-up')
    const addr = pickAddr(registry.addrs)
    controller = new WatchController(async peer => RegistryClient.connect({ registry: peer ?? addr, timeoutMs: 1_000 }))
    const snaps: Snapshot[] = []
    controller.subscribe(s => { snaps.push(s) })
    controller.start()
    const states = (s: Snapshot | undefined): string => [...(s?.view.services.values() ?? [])].map(r => `${r.name}:${r.status}`).sort().join(',')
    await expect.poll(() => states(snaps.at(-1)), { timeout: 10_000 }).toBe('demo:up,log:up')

    await log.p2p.stop()
    await expect.poll(() => states(snaps.at(-1)), { timeout: 10_000 }).toBe('demo:up,log:down')
    expect(snaps.at(-1)?.view.events[0]).toMatchObject({ event: 'provider-down', name: 'log' })

    await registry.stop()
    await expect.poll(() => snaps.at(-1)?.connection, { timeout: 15_000 }).toBe('peer')
    expect(snaps.at(-1)?.viewOf).toBe(demo.peerId)
    // How fresh that view is, on the peer's clock (it may not have noticed the registry go yet).
    expect(snaps.at(-1)?.viewSource).toMatchObject({ peerId: demo.peerId, role: 'peer' })
    expect(snaps.at(-1)?.viewSource?.registryLastSeen).toBeGreaterThan(0)
    // Batched: far fewer renders than watch messages (figures arrive every second).
    expect(snaps.length).toBeLessThan(100)
  })
})
