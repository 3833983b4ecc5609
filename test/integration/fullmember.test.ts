import { afterEach, describe, expect, it } from 'vitest'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** Every node holds the whole catalogue (issue 13): its calls need no registry for names it has heard of. */
describe('a node calls through its own catalogue while the registry is away', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('reaches a provider of a name it does not require, and names what it tried when none is known', async () => {
    const registry = await cluster.registry()
    const log = await cluster.service(registry, 'log')
    const idle = await cluster.service(registry, 'idle')
    // Not required, so not kept current by the hub: held from the registry's snapshot and gossip.
    await eventually(() => { if (idle.catalog.get('log', log.peerId)?.status !== 'up') throw new Error('idle never held log') })

    await registry.stop()
    await cluster.waitFor(idle, e => e.event === 'registry-lost', 10_000, 'registry-lost')
    // Never looked up while the registry was there: the catalogue answers, and the call reaches
    // log (a plain service: it has no such method).
    await expect(idle.call('log', 'nope', {}, { timeoutMs: 3_000 })).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' })
    const err: any = await idle.call('nosuch', 'm', {}, { timeoutMs: 3_000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RegistryUnreachableError' })
    expect(err.message).toMatch(/no provider of "nosuch" is known: the registry 12D3Koo\w+ did not answer \(.+\) and this node's catalogue lists none/)
  })
})
