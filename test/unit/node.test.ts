import { describe, expect, it } from 'vitest'
import { createConfig } from '../../src/node/config.js'
import { GdsNode } from '../../src/node/node.js'

describe('a node before start', () => {
  it('says it is not started, by name and code', async () => {
    const node = new GdsNode({ config: createConfig({ role: 'service', name: 'demo', dataDir: '/nonexistent' }) })
    await expect(node.call('log', 'query')).rejects.toMatchObject({ name: 'NotStartedError', code: 'NOT_STARTED' })
    expect(() => node.peerId).toThrow(expect.objectContaining({ name: 'NotStartedError' }))
  })

  it('refuses role registry without the registry hub', () => {
    expect(() => new GdsNode({ config: createConfig({ role: 'registry', dataDir: '/nonexistent' }) })).toThrow(expect.objectContaining({ name: 'InvalidConfigError' }))
  })
})
