import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { checkPinned, pinnedRegistry } from '../../src/node/registry-pin.js'
import { readSwarmKey } from '../../src/node/swarm-key.js'

const A = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const B = '12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'

describe('the pinned registry', () => {
  it('is the /p2p/ part of the address, if there is one', () => {
    expect(pinnedRegistry(multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${A}`))?.toString()).toBe(A)
    expect(pinnedRegistry(multiaddr('/ip4/127.0.0.1/tcp/4001'))).toBeUndefined()
  })

  it('refuses another peer at a pinned address, and says who is there', () => {
    const addr = multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${A}`)
    expect(() => { checkPinned(addr, peerIdFromString(B)) }).toThrow(expect.objectContaining({
      name: 'UnauthorizedError',
      message: `the peer at /ip4/127.0.0.1/tcp/4001/p2p/${A} is ${B}, not the pinned registry ${A}`
    }))
    expect(() => { checkPinned(addr, peerIdFromString(A)) }).not.toThrow()
    expect(() => { checkPinned(multiaddr('/ip4/127.0.0.1/tcp/4001'), peerIdFromString(B)) }).not.toThrow()
  })
})

describe('the swarm key', () => {
  it('is read from its file; none means an open network; a missing file is a config error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gds-swarm-'))
    try {
      const path = join(dir, 'swarm.key')
      await writeFile(path, 'key bytes')
      expect(Buffer.from((await readSwarmKey(path))!).toString()).toBe('key bytes')
      expect(await readSwarmKey(undefined)).toBeUndefined()
      await expect(readSwarmKey(join(dir, 'nope'))).rejects.toMatchObject({ name: 'InvalidConfigError', message: `cannot read swarm key ${join(dir, 'nope')}: no such file` })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
