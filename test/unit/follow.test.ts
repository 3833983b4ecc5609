import { describe, expect, it } from 'vitest'
import { following } from '../../src/node/follow.js'

describe('which names a node keeps', () => {
  it('a service keeps what it requires current, and holds every name gossip brings (the whole catalogue)', () => {
    const f = following([{ name: 'webui', requires: ['grading', 'log'] }, { name: 'grading', requires: ['log'] }], false)
    expect(['log', 'grading', 'webui', 'other'].map(f.keeps)).toEqual([true, true, false, false])
    expect(['log', 'grading', 'webui', 'other'].map(f.gossips)).toEqual([true, true, true, true])
  })

  it('the registry keeps every name, and gossip writes none of them', () => {
    const f = following([], true)
    expect(['log', 'anything'].map(f.keeps)).toEqual([true, true])
    expect(['log', 'anything'].map(f.gossips)).toEqual([false, false])
  })
})
