import { afterEach, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/node/client.js'
import { applyWatch, emptyView, type WatchView } from '../../src/node/watch-view.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster } from '../helpers/nodes.js'

describe('/gds/watch/1.0.0', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('gives a snapshot, then each change, then figures; the view follows the cluster', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    await cluster.waitFor(log, e => e.event === 'registered')
    const client = await RegistryClient.connect({ registry: pickAddr(registry.addrs) })
    const ac = new AbortController()
    const deadline = setTimeout(() => { ac.abort() }, 10_000)
    let view: WatchView = emptyView()
    const seen: string[] = []
    let demoPeer = ''
    try {
      for await (const msg of client.watch(ac.signal)) {
        view = applyWatch(view, msg)
        seen.push(msg.type)
        if (msg.type === 'snapshot') {
          expect(msg.services.map(s => s.name)).toEqual(['log'])
          const demo = await cluster.service(registry, 'demo', ['log'])
          demoPeer = demo.peerId
          await cluster.waitFor(demo, e => e.event === 'registered')
          void demo.stop()
        }
        const states = [...view.services.values()].map(s => `${s.name}:${s.status}`).sort()
        if (demoPeer !== '' && states.includes('demo:leaving') && seen.includes('figures')) break
      }
    } finally {
      clearTimeout(deadline)
      ac.abort()
      await client.close()
    }
    expect(seen[0]).toBe('snapshot')
    expect(view.events.map(e => `${e.event}:${'name' in e ? e.name : ''}`)).toEqual(['provider-down:demo', 'provider-up:demo'])
    expect(view.rtt.get(log.peerId)?.length).toBeGreaterThan(0)
  })
})
