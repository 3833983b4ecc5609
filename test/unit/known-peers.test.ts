import fc from 'fast-check'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KNOWN_PEERS } from '../../src/node/config.js'
import { peerAddr, readKnownPeers, recall, remember, updateKnownPeers, writeKnownPeers, type KnownPeers } from '../../src/node/known-peers.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const record = (over: Partial<ProviderRecord> = {}): ProviderRecord => ({
  name: 'log', peerId: ID, addrs: ['/ip4/127.0.0.1/tcp/4100'], requires: [], version: '0.0.0', meta: {}, incarnation: 1, seq: 0, status: 'up', ...over
})
const addr = (i: number): string => `/ip4/127.0.0.1/tcp/${5000 + i}/p2p/${ID}`

describe('known peers: what a client remembers of the registry\'s answers', () => {
  it('dials an up record at its first TCP address, pinned by its id; nothing for a down one or one without TCP', () => {
    expect(peerAddr(record())).toBe(`/ip4/127.0.0.1/tcp/4100/p2p/${ID}`)
    expect(peerAddr(record({ addrs: [`/ip4/10.0.0.1/tcp/1/p2p/${ID}`] }))).toBe(`/ip4/10.0.0.1/tcp/1/p2p/${ID}`)
    expect(peerAddr(record({ status: 'down' }))).toBeUndefined()
    expect(peerAddr(record({ addrs: ['/ip4/127.0.0.1/udp/1/quic-v1'] }))).toBeUndefined()
  })

  it('keeps the newest first, each once, capped per registry; recalls the first few; clusters never mix', () => {
    let book: KnownPeers = {}
    book = remember(book, 'A', [addr(1), addr(2)], 1)
    book = remember(book, 'A', [addr(3), addr(1)], 2)
    expect(book.A.peers).toEqual([addr(3), addr(1), addr(2)])
    book = remember(book, 'A', Array.from({ length: 20 }, (_, i) => addr(10 + i)), 3)
    expect(book.A.peers).toHaveLength(KNOWN_PEERS.perRegistry)
    expect(recall(book, 'A')).toEqual(book.A.peers.slice(0, KNOWN_PEERS.tried))
    expect(recall(book, 'B')).toEqual([])
    expect(remember(book, 'A', [], 4)).toBe(book)
  })

  it('changes nothing (the very book back) for the same peers of the most recently used registry', () => {
    const book = remember(remember({}, 'B', [addr(9)], 1), 'A', [addr(1), addr(2)], 2)
    expect(remember(book, 'A', [addr(1), addr(2)], 3)).toBe(book)
    expect(remember(book, 'A', [addr(1)], 3)).toBe(book)
    // New peers, a new order, or a registry used less recently than another: a new book.
    expect(remember(book, 'A', [addr(3)], 3).A.peers).toEqual([addr(3), addr(1), addr(2)])
    expect(remember(book, 'A', [addr(2)], 3).A.peers).toEqual([addr(2), addr(1)])
    expect(remember(book, 'B', [addr(9)], 3).B.at).toBe(3)
  })

  it('forgets the least recently used cluster beyond the cap', () => {
    let book: KnownPeers = {}
    for (let i = 0; i <= KNOWN_PEERS.registries; i++) book = remember(book, `R${i}`, [addr(i)], i)
    expect(Object.keys(book)).toHaveLength(KNOWN_PEERS.registries)
    expect(book.R0).toBeUndefined()
    expect(book[`R${KNOWN_PEERS.registries}`].peers).toEqual([addr(KNOWN_PEERS.registries)])
  })
})

describe('known peers: the file', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'gds-known-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('round-trips, is private to its owner, and leaves no temporary file', async () => {
    const file = join(dir, 'state', 'known-peers.json')
    const book = remember({}, 'A', [addr(1)], 1)
    await writeKnownPeers(file, book)
    expect(await readKnownPeers(file)).toEqual(book)
    expect(await readdir(join(dir, 'state'))).toEqual(['known-peers.json'])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('is rewritten only when its book changes', async () => {
    const file = join(dir, 'known-peers.json')
    await updateKnownPeers(file, 'A', [addr(1), addr(2)], 1)
    const written = await stat(file)
    // The same answer again: the file is left alone (a rewrite renames a new inode into place).
    await updateKnownPeers(file, 'A', [addr(1), addr(2)], 2)
    expect((await stat(file)).ino).toBe(written.ino)
    expect((await readKnownPeers(file)).A).toEqual({ at: 1, peers: [addr(1), addr(2)] })
    await updateKnownPeers(file, 'A', [addr(3)], 3)
    expect((await stat(file)).ino).not.toBe(written.ino)
    expect((await readKnownPeers(file)).A).toEqual({ at: 3, peers: [addr(3), addr(1), addr(2)] })
    expect(await readdir(dir)).toEqual(['known-peers.json'])
  })

  it('a missing, malformed, oversized or foreign file is an empty book, never an error', async () => {
    const file = join(dir, 'known-peers.json')
    expect(await readKnownPeers(file)).toEqual({})
    for (const text of ['{', '[]', 'null', '{"A":{"at":1,"peers":"x"}}', '{"A":{"at":1,"peers":[],"extra":1}}', JSON.stringify({ A: { at: 1, peers: Array(KNOWN_PEERS.perRegistry + 1).fill('x') } }), ' '.repeat(KNOWN_PEERS.maxFileBytes + 1)]) {
      await writeFile(file, text)
      expect(await readKnownPeers(file)).toEqual({})
    }
    const many = Object.fromEntries(Array.from({ length: KNOWN_PEERS.registries + 1 }, (_, i) => [`R${i}`, { at: i, peers: [] }]))
    await writeFile(file, JSON.stringify(many))
    expect(await readKnownPeers(file)).toEqual({})
  })

  it('any bytes in the file read as a book that remember and recall accept', async () => {
    const file = join(dir, 'known-peers.json')
    await fc.assert(fc.asyncProperty(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map(v => JSON.stringify({ A: v }))), async text => {
      await writeFile(file, text)
      const book = await readKnownPeers(file)
      expect(Array.isArray(recall(book, 'A'))).toBe(true)
      await writeKnownPeers(file, remember(book, 'A', [addr(1)], 1))
      expect(JSON.parse(await readFile(file, 'utf8')).A.peers[0]).toBe(addr(1))
    }), { numRuns: 200 })
  })
})
