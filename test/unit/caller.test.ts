import { describe, expect, it } from 'vitest'
import { Caller, LOOKUP_CACHE_MS, LookupCache, catalogSource } from '../../src/node/caller.js'
import { Catalog } from '../../src/node/catalog.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const LOCAL = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const REMOTE = '12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'
const p = (peerId: string, name = 's'): ProviderRecord =>
  ({ name, peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up' })

/** A caller whose only reachable provider is this process: the network is a stub that fails. */
function caller (providers: ProviderRecord[], now: () => number, random: () => number): Caller {
  return new Caller({
    libp2p: {} as any,
    source: { refresh: async () => {}, providers: () => providers },
    reportSuspect: () => {},
    local: { peerId: LOCAL, call: async () => 'local', stream: async function * () { yield 'local' } },
    now,
    random
  })
}

describe('caller', () => {
  it('chooses with the randomness it is given', async () => {
    const c = caller([p(REMOTE), p(LOCAL)], Date.now, () => 0.99)
    for (let i = 0; i < 20; i++) expect(await c.call('s', 'm', {}, { strategy: 'random', attempts: 1 })).toBe('local')
  })

  it('keeps its deadline by the clock it is given', async () => {
    let t = 0
    const c = caller([p(LOCAL)], () => { t += 10_000; return t }, Math.random)
    await expect(c.call('s', 'm', {}, { timeoutMs: 5_000 })).rejects.toMatchObject({ name: 'ServiceNotFoundError' })
  })

  it('reads kept names from the catalogue and asks the registry, briefly cached, for the others', async () => {
    const catalog = new Catalog()
    catalog.load([p(LOCAL, 'log')], 0)
    let t = 0
    const asked: string[] = []
    const lookups = new LookupCache(async s => { asked.push(s); return [p(REMOTE, s)] }, () => t)
    const source = catalogSource(catalog, s => s === 'log', lookups)
    await source.refresh('log')
    await source.refresh('grading')
    await source.refresh('grading')
    expect(asked).toEqual(['grading'])
    expect(source.providers('log').map(r => r.peerId)).toEqual([LOCAL])
    expect(source.providers('grading').map(r => r.peerId)).toEqual([REMOTE])
    t = LOOKUP_CACHE_MS
    await source.refresh('grading')
    expect(asked).toEqual(['grading', 'grading'])
  })
})
