import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { checkPinned, parseRegistryAddr, pinnedRegistry } from '../../src/node/registry-pin.js'
import { describeDialError } from '../../src/node/client.js'
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

describe('an address as a user gives it', () => {
  it('is a usage error when not a multiaddr, when its /p2p/ is no peer id, or names /p2p/ twice (one pasted after a listening address)', () => {
    expect(parseRegistryAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${A}`).toString()).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${A}`)
    expect(() => parseRegistryAddr('127.0.0.1:4001')).toThrow(expect.objectContaining({ name: 'InvalidConfigError', message: expect.stringMatching(/^--registry "127\.0\.0\.1:4001" is not a multiaddr/) }))
    expect(() => parseRegistryAddr('/ip4/127.0.0.1/tcp/4001/p2p/nope', '--peer')).toThrow(expect.objectContaining({ name: 'InvalidConfigError', message: expect.stringMatching(/^--peer .*"nope" after \/p2p\/ is not a peer id/) }))
    expect(() => parseRegistryAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${A}/p2p/${A}`, '--peer')).toThrow(expect.objectContaining({ name: 'InvalidConfigError', message: expect.stringMatching(/names \/p2p\/ 2 times: keep one/) }))
  })

  it('that libp2p finds nothing to dial in is named as such, not in libp2p\'s words', () => {
    expect(describeDialError(Object.assign(new Error(`The dial request has no valid addresses for peer: ${A}`), { name: 'NoValidAddressesError' }))).toMatch(/^nothing there this node can dial \(gds speaks TCP/)
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
