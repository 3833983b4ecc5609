import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadCached } from '../../src/cli/code-cache.js'

describe('loadCached', () => {
  const dirs: string[] = []
  const dir = (): string => { const d = mkdtempSync(join(tmpdir(), 'gds-code-cache-')); dirs.push(d); return d }
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

  // A module whose functions V8 compiles lazily, as the client's are.
  const source = (answer: number): string => `const path = require('node:path')\nexports.answer = () => ${answer}\nexports.base = path.basename(__filename)\n`
  // V8 keeps what this process compiled by source and file name: the same source under another
  // name is what a new process sees, so only the cache file can spare its compiling.
  const copy = (file: string, as: string): string => { writeFileSync(as, readFileSync(file)); return as }

  it('runs the file as CommonJS, and uses the cache it saved the next time', () => {
    const d = dir()
    const file = join(d, 'mod.cjs')
    const cache = join(d, 'cache', 'mod.v8')
    writeFileSync(file, source(41))
    const first = loadCached<{ answer: () => number, base: string }>(file, cache)
    expect([first.exports.answer(), first.exports.base, first.cacheUsed]).toEqual([41, 'mod.cjs', false])
    first.saveCache()
    const second = loadCached<{ answer: () => number }>(copy(file, join(d, 'again.cjs')), cache)
    expect([second.exports.answer(), second.cacheUsed]).toEqual([41, true])
  })

  it('never uses a cache made for other code, even of the same length (V8 checks only the length)', () => {
    const d = dir()
    const file = join(d, 'mod.cjs')
    const cache = join(d, 'mod.v8')
    writeFileSync(file, source(41))
    loadCached(file, cache).saveCache()
    const upgraded = join(d, 'upgraded.cjs')
    writeFileSync(upgraded, source(42))
    const changed = loadCached<{ answer: () => number }>(upgraded, cache)
    expect([changed.exports.answer(), changed.cacheUsed]).toEqual([42, false])
    changed.saveCache()
    expect(loadCached(copy(upgraded, join(d, 'again.cjs')), cache).cacheUsed).toBe(true)
  })

  it('a damaged cache, or one that cannot be written, only costs the cache', () => {
    const d = dir()
    const file = join(d, 'mod.cjs')
    const cache = join(d, 'mod.v8')
    writeFileSync(file, source(7))
    loadCached(file, cache).saveCache()
    const good = readFileSync(cache)
    // The right key, then garbage where V8's data was: V8 rejects it.
    writeFileSync(cache, Buffer.concat([good.subarray(0, 32), Buffer.alloc(good.length - 32, 0xab)]))
    const damaged = loadCached<{ answer: () => number }>(copy(file, join(d, 'again.cjs')), cache)
    expect([damaged.exports.answer(), damaged.cacheUsed]).toEqual([7, false])
    // Its folder is a file: nothing is written, and nothing thrown.
    const blocked = loadCached(file, join(file, 'mod.v8'))
    expect(() => { blocked.saveCache() }).not.toThrow()
    expect(blocked.cacheUsed).toBe(false)
  })
})
