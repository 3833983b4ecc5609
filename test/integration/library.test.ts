import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { connect, defineMethod, defineService, startNode, type GdsNode } from '../../src/index.js'
import { pickAddr } from '../../src/cli/format.js'
import { TEST_TIMINGS } from '../../src/node/config.js'

describe('the public API (import from "gds")', () => {
  const nodes: GdsNode[] = []
  const dirs: string[] = []
  const dir = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'gds-lib-')); dirs.push(d); return d }
  afterEach(async () => {
    for (const n of nodes.splice(0).reverse()) await n.stop()
    await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })))
  })

  it('a service hears when the providers it requires change (ctx.onProviderChange)', async () => {
    const registry = await startNode({ registryRole: true, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS })
    nodes.push(registry)
    const addr = pickAddr(registry.addrs)
    const heard: string[] = []
    const watcher = defineService({ name: 'watcher', requires: ['hello'], start: ctx => { ctx.onProviderChange(e => { heard.push(`${e.event}:${e.name}`) }) } })
    nodes.push(await startNode({ services: [watcher], registry: addr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS }))
    const hello = await startNode({ services: [defineService({ name: 'hello' })], registry: addr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS })
    await expect.poll(() => heard, { timeout: 10_000 }).toContain('provider-up:hello')
    await hello.stop()
    await expect.poll(() => heard, { timeout: 10_000 }).toContain('provider-down:hello')
  })

  it('defineService + startNode + connect: a service, a node calling it, a plain client calling it', async () => {
    const registry = await startNode({ registryRole: true, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS })
    nodes.push(registry)
    const addr = pickAddr(registry.addrs)
    const hello = defineService({
      name: 'hello',
      methods: {
        greet: defineMethod({
          params: z.object({ name: z.string().max(64) }),
          result: z.object({ text: z.string() }),
          handler: ({ name }) => ({ text: `hello, ${name}` })
        })
      }
    })
    nodes.push(await startNode({ services: [hello], registry: addr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS }))
    const caller = await startNode({ name: 'caller', registry: addr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS })
    nodes.push(caller)
    // A node that provides nothing still calls anything, through a registry lookup.
    await expect.poll(async () => caller.call('hello', 'greet', { name: 'node' }).catch(e => e.code), { timeout: 10_000 }).toEqual({ text: 'hello, node' })
    const client = await connect({ registry: addr })
    try {
      expect(await client.call('hello', 'greet', { name: 'client' })).toEqual({ text: 'hello, client' })
      await expect(client.call('hello', 'greet', { name: 7 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    } finally {
      await client.close()
    }
  })

  it('a plain function is a method (the shorthand of { handler })', async () => {
    const registry = await startNode({ registryRole: true, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS })
    nodes.push(registry)
    const addr = pickAddr(registry.addrs)
    const echo = defineService({ name: 'echo', methods: { say: async (p: any) => ({ said: p?.text }) } })
    nodes.push(await startNode({ services: [echo], registry: addr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: await dir(), ...TEST_TIMINGS }))
    const client = await connect({ registry: addr })
    try {
      await expect.poll(async () => client.call('echo', 'say', { text: 'hi' }).catch(e => e.message), { timeout: 10_000 }).toEqual({ said: 'hi' })
      await expect(client.call('echo', 'toString', {})).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' })
    } finally {
      await client.close()
    }
  })
})
