import type { Key } from 'ink'
import { describe, expect, it } from 'vitest'
import { applyPress, INITIAL_INPUT, pressesOf, type InputState } from '../../src/ui/keys.js'

const NO_KEY: Key = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false } as Key
const type = (s: InputState, ...chunks: Array<string | Partial<Key>>): InputState =>
  chunks.reduce<InputState>((acc, c) => pressesOf(typeof c === 'string' ? c : '', typeof c === 'string' ? NO_KEY : { ...NO_KEY, ...c }).reduce((a, p) => applyPress(a, p, 3), acc), s)

describe('TUI keys', () => {
  it('a pasted chunk is many keys: f + "gra⏎" filters by "gra" and applies it; the next key is a command again', () => {
    const s = type(INITIAL_INPUT, 'fgra\r')
    expect(s).toMatchObject({ filter: 'gra', filtering: false })
    expect(type(s, 's')).toMatchObject({ filter: 'gra', sort: 'status' })
    expect(type(INITIAL_INPUT, 'f', 'gra\r')).toMatchObject({ filter: 'gra', filtering: false })
  })

  it('one key at a time works as before: select, details, filter with backspace, sort, quit', () => {
    expect(type(INITIAL_INPUT, { downArrow: true }, { downArrow: true }, { downArrow: true }, { downArrow: true }).selected).toBe(2)
    expect(type(INITIAL_INPUT, { downArrow: true }, { upArrow: true }, { upArrow: true }).selected).toBe(0)
    expect(type(INITIAL_INPUT, { return: true }).details).toBe(true)
    expect(type(INITIAL_INPUT, 'f', 'l', 'o', 'x', { backspace: true }, 'g', { escape: true })).toMatchObject({ filter: 'log', filtering: false })
    expect(type(INITIAL_INPUT, 's', 's', 's').sort).toBe('name')
    expect(type(INITIAL_INPUT, 'q').quit).toBe(true)
    expect(type(INITIAL_INPUT, 'f', 'q')).toMatchObject({ quit: false, filter: 'q' })
    expect(type(INITIAL_INPUT, 'f', { ctrl: true }, 'c').quit).toBe(false)
  })

  it('control characters in a paste are not filter text; a flood of text stops at the cap; unknown keys change nothing', () => {
    expect(type(INITIAL_INPUT, 'f\x00l\x07o\u200bg\x7f\x1b')).toMatchObject({ filter: 'lo', filtering: false })
    expect(type(INITIAL_INPUT, 'f' + 'x'.repeat(10_000)).filter).toHaveLength(64)
    expect(type(INITIAL_INPUT, 'zZ!', { leftArrow: true }, { tab: true })).toEqual(INITIAL_INPUT)
  })
})
