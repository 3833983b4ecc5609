import { describe, expect, it } from 'vitest'
import { ListAssembler, listPages, pageRecords } from '../../src/node/pages.js'
import { listPage, type ListResult, type ProviderRecord } from '../../src/node/schemas.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const rec = (i: number, pad = 0): ProviderRecord =>
  ({ name: `s${i}`, peerId: A, addrs: [], requires: [], version: '1', meta: pad > 0 ? { pad: 'x'.repeat(pad) } : {}, incarnation: 1, seq: 0, status: 'up' })
const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v))

describe('pages of a big answer', () => {
  it('cuts records into pages under the byte limit, in order, none lost', () => {
    const records = Array.from({ length: 500 }, (_, i) => rec(i, i % 7 === 0 ? 200 : 0))
    const pages = [...pageRecords(records, { maxBytes: 4096 })]
    expect(pages.length).toBeGreaterThan(10)
    for (const p of pages) expect(bytes(p)).toBeLessThanOrEqual(4096 + 2)
    expect(pages.flat()).toEqual(records)
  })

  it('a record bigger than the limit is a page of its own; the count limit holds too; an empty table is one empty page', () => {
    const pages = [...pageRecords([rec(0), rec(1, 10_000), rec(2)], { maxBytes: 1024 })]
    expect(pages.map(p => p.map(r => r.name))).toEqual([['s0'], ['s1'], ['s2']])
    expect([...pageRecords(Array.from({ length: 5 }, (_, i) => rec(i)), { maxRecords: 2 })].map(p => p.length)).toEqual([2, 2, 1])
    expect([...pageRecords([])]).toEqual([[]])
  })

  it('a list answer goes out as pages and is joined back whole; only the first names the registry', () => {
    const list: ListResult = { registry: { peerId: A, addrs: ['/ip4/127.0.0.1/tcp/4001'] }, services: Array.from({ length: 300 }, (_, i) => rec(i, 100)), source: { peerId: A, role: 'registry', registryConnected: true } }
    const pages = [...listPages(list, 8192)]
    expect(pages.length).toBeGreaterThan(3)
    expect(pages.slice(1).every(p => p.registry === undefined && p.source === undefined)).toBe(true)
    const whole = new ListAssembler()
    for (const p of pages) whole.add(listPage.parse(JSON.parse(JSON.stringify(p))))
    expect(whole.result()).toEqual(list)
  })

  it('pages that never name the registry make no answer', () => {
    const whole = new ListAssembler()
    whole.add({ services: [rec(1)] })
    expect(whole.result()).toBeUndefined()
  })
})
