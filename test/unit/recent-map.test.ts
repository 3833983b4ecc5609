import { describe, expect, it } from 'vitest'
import { RecentMap } from '../../src/node/recent-map.js'

describe('RecentMap', () => {
  it('keeps at most max entries, dropping the one set longest ago; setting again makes it newest', () => {
    const m = new RecentMap<string, number>(2)
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4)
    expect([...m]).toEqual([['a', 3], ['c', 4]])
    expect(m.get('b')).toBeUndefined()
  })
})
