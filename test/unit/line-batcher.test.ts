import { describe, expect, it } from 'vitest'
import { LineBatcher } from '../../src/cli/line-batcher.js'

describe('LineBatcher', () => {
  it('writes the lines of one turn together, in order, once', () => {
    const writes: string[] = []
    const deferred: Array<() => void> = []
    const out = new LineBatcher(s => writes.push(s), fn => deferred.push(fn))
    out.push('a'); out.push('b'); out.push('c')
    expect(writes).toEqual([])
    expect(deferred).toHaveLength(1)
    deferred.shift()!()
    expect(writes).toEqual(['a\nb\nc\n'])
    out.push('d')
    expect(deferred).toHaveLength(1)
    deferred.shift()!()
    expect(writes).toEqual(['a\nb\nc\n', 'd\n'])
  })

  it('flushes what is pending at once, and a later deferred flush writes nothing twice', () => {
    const writes: string[] = []
    const deferred: Array<() => void> = []
    const out = new LineBatcher(s => writes.push(s), fn => deferred.push(fn))
    out.push('x')
    out.flush()
    deferred.shift()!()
    expect(writes).toEqual(['x\n'])
  })
})
