import { describe, expect, it } from 'vitest'
import { RpcServer } from '../../src/node/rpc-server.js'
import { silentLogger } from '../../src/node/logger.js'
import { defineService, methodOf } from '../../src/node/service.js'

describe('methods of a service definition', () => {
  it('a plain function is { handler: fn } with no params schema', async () => {
    const fn = async (p: unknown): Promise<unknown> => p
    expect(methodOf(fn)).toEqual({ handler: fn })
    const full = { handler: fn }
    expect(methodOf(full)).toBe(full)
    const def = defineService({ name: 'echo', methods: { say: async (p: any) => ({ said: p.text }) } })
    expect(typeof def.methods.say).toBe('function')
    const server = new RpcServer({ handle: async () => {}, unhandle: async () => {} } as any, silentLogger)
    await server.start([def])
    expect(await server.invoke('echo', 'say', { text: 'hi' }, 'me')).toEqual({ said: 'hi' })
  })
})
