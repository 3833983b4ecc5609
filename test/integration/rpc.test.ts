import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineMethod, defineService } from '../../src/node/service.js'
import type { GdsNode } from '../../src/node/node.js'
import { RegistryClient } from '../../src/node/client.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** A provider that records which calls it served (Moleculer's $scenario idea). */
function echoService (served: string[]) {
  return defineService({
    name: 'echo',
    methods: {
      say: defineMethod({
        params: z.object({ text: z.string().max(100) }),
        result: z.object({ text: z.string(), by: z.string() }),
        handler: ({ text }, call) => { served.push(text); return { text, by: call.caller.length > 0 ? 'ok' : 'x' } }
      }),
      count: defineMethod({
        params: z.object({ to: z.number().int().min(1).max(1000) }),
        handler: async function * ({ to }) { for (let i = 1; i <= to; i++) yield i }
      }),
      forever: defineMethod({
        handler: async function * (_: unknown, call) {
          for (let i = 0; !call.signal.aborted; i++) { yield i; await new Promise(resolve => setTimeout(resolve, 5)) }
        }
      }),
      broken: defineMethod({ handler: () => { throw new Error('boom') } })
    }
  })
}

describe('rpc through the balancer', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  async function setup (providers: number) {
    const registry = await cluster.registry()
    const served: string[][] = []
    const nodes: GdsNode[] = []
    for (let i = 0; i < providers; i++) {
      const s: string[] = []
      served.push(s)
      nodes.push(await cluster.service(registry, 'echo', [], {}, [echoService(s)]))
    }
    const caller = await cluster.service(registry, 'caller', ['echo'])
    await eventually(() => { expect(caller.catalog.providersOf('echo').filter(p => p.status === 'up')).toHaveLength(providers) })
    return { registry, served, nodes, caller }
  }

  it('round-robin spreads calls over both providers', async () => {
    const { served, caller } = await setup(2)
    for (let i = 0; i < 10; i++) {
      expect(await caller.call('echo', 'say', { text: `m${i}` })).toEqual({ text: `m${i}`, by: 'ok' })
    }
    // Round-robin alternates between up providers (a provider that a busy machine made
    // briefly suspect is skipped while another is up, so the split need not be exact).
    expect(served[0].length + served[1].length).toBe(10)
    expect(served[0].length).toBeGreaterThanOrEqual(2)
    expect(served[1].length).toBeGreaterThanOrEqual(2)
  })

  it('a burst of calls queued together (one write per turn) each gets its own answer', async () => {
    const { served, caller } = await setup(1)
    const texts = Array.from({ length: 300 }, (_, i) => `b${i}`)
    const answers = await Promise.all(texts.map(async text => caller.call('echo', 'say', { text })))
    expect(answers).toEqual(texts.map(text => ({ text, by: 'ok' })))
    expect(served[0]).toHaveLength(300)
  })

  it('no call fails when a provider dies mid-traffic', async () => {
    const { served, nodes, caller } = await setup(2)
    const results: Array<Promise<unknown>> = []
    for (let i = 0; i < 200; i++) {
      results.push(caller.call('echo', 'say', { text: `m${i}` }, { timeoutMs: 5_000, idempotent: true }))
      if (i === 50) results.push(Promise.resolve(nodes[0].p2p.stop()).then(() => 'killed'))
      if (i % 10 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    const settled = await Promise.allSettled(results)
    expect(settled.filter(r => r.status === 'rejected').map(r => String((r as PromiseRejectedResult).reason))).toEqual([])
    expect(served[0].length + served[1].length).toBeGreaterThanOrEqual(200)
  })

  it('gives typed errors: bad params, unknown method, unknown service, a failing handler', async () => {
    const { caller } = await setup(1)
    await expect(caller.call('echo', 'say', { text: 42 })).rejects.toMatchObject({ name: 'InvalidParamsError', code: 'INVALID_PARAMS' })
    await expect(caller.call('echo', 'say', { text: 'x'.repeat(101) })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    await expect(caller.call('echo', 'nope')).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' })
    await expect(caller.call('nothing', 'say')).rejects.toMatchObject({ name: 'ServiceNotFoundError' })
    await expect(caller.call('echo', 'broken')).rejects.toMatchObject({ code: 'INTERNAL', message: 'boom' })
    await expect(caller.call('echo', 'say', {}, { strategy: 'fastest' as any })).rejects.toMatchObject({ name: 'InvalidStrategyError' })
    // The provider is still fine afterwards.
    expect(await caller.call('echo', 'say', { text: 'still here' })).toMatchObject({ text: 'still here' })
  })

  it('streams items, and a consumer that stops early cancels the producer', async () => {
    const { caller } = await setup(1)
    const items: unknown[] = []
    for await (const n of caller.stream('echo', 'count', { to: 5 })) items.push(n)
    expect(items).toEqual([1, 2, 3, 4, 5])
    let seen = 0
    for await (const _ of caller.stream('echo', 'forever')) { if (++seen === 3) break }
    expect(seen).toBe(3)
    expect(await caller.call('echo', 'say', { text: 'after' })).toMatchObject({ text: 'after' })
  })

  it('call() of a streaming method over the network says so at once, not at its deadline', async () => {
    const { caller } = await setup(1)
    // A deadline longer than the test's own: only the prompt refusal can pass.
    await expect(caller.call('echo', 'forever', {}, { timeoutMs: 120_000 })).rejects.toMatchObject({ name: 'InvalidParamsError', message: expect.stringMatching(/use stream\(\)/) })
    await expect(caller.call('echo', 'count', { to: 1 }, { timeoutMs: 120_000 })).rejects.toMatchObject({ name: 'InvalidParamsError', message: expect.stringMatching(/use stream\(\)/) })
    expect(await caller.call('echo', 'say', { text: 'after' })).toMatchObject({ text: 'after' })
  })

  it('every provider describes its services ($describe): methods, params as JSON Schema', async () => {
    const { caller } = await setup(1)
    const d = await caller.call<any>('echo', '$describe')
    expect(d).toMatchObject({ service: 'echo', version: '0.0.0' })
    expect(d.methods.map((m: any) => m.name)).toEqual(['broken', 'count', 'forever', 'say'])
    expect(d.methods.find((m: any) => m.name === 'say').params).toMatchObject({ type: 'object', properties: { text: { type: 'string', maxLength: 100 } }, required: ['text'] })
    expect(d.methods.find((m: any) => m.name === 'forever').params).toBeNull()
    await expect(caller.call('nothing', '$describe')).rejects.toMatchObject({ name: 'ServiceNotFoundError' })
  })

  it('a plain client (no node) calls through a registry lookup', async () => {
    const { registry, served } = await setup(2)
    const client = await RegistryClient.connect({ registry: pickAddr(registry.addrs) })
    // Round-robin over what the lookup says is up. On a loaded machine a provider can be
    // suspect (a late probe) when the lookup is taken, and the lookup is cached for a second:
    // so call until both have served, within a deadline, rather than expect an exact split.
    let calls = 0
    try {
      const deadline = Date.now() + 15_000
      while ((served[0].length === 0 || served[1].length === 0) && Date.now() < deadline) {
        await client.call('echo', 'say', { text: `c${calls++}` })
        if (calls % 4 === 0) await new Promise(resolve => setTimeout(resolve, 100))
      }
    } finally {
      await client.close()
    }
    expect(served[0].length + served[1].length).toBe(calls)
    expect(served[0].length).toBeGreaterThanOrEqual(1)
    expect(served[1].length).toBeGreaterThanOrEqual(1)
  })
})
