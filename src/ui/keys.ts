import type { Key } from 'ink'
import { SORTS, type SortKey } from './model.js'

/** A key the TUI acts on. */
export type Press = { type: 'char', ch: string } | { type: 'return' | 'escape' | 'backspace' | 'up' | 'down' | 'quit' }

/**
 * The keys one input event stands for. A paste (or keys typed faster than a frame) arrives as
 * one string: each of its characters is a key of its own, Enter included, so `f` + `gra⏎`
 * filters by "gra" and applies it. Control characters other than Enter, Backspace and Escape
 * are not text. Pure.
 */
export function pressesOf (input: string, key: Key): Press[] {
  if (key.ctrl && input === 'c') return [{ type: 'quit' }]
  if (key.upArrow) return [{ type: 'up' }]
  if (key.downArrow) return [{ type: 'down' }]
  if (key.return) return [{ type: 'return' }]
  if (key.escape) return [{ type: 'escape' }]
  if (key.backspace || key.delete) return [{ type: 'backspace' }]
  if (key.ctrl) return []
  const presses: Press[] = []
  for (const ch of input) {
    if (ch === '\r' || ch === '\n') presses.push({ type: 'return' })
    else if (ch === '\x7f' || ch === '\b') presses.push({ type: 'backspace' })
    else if (ch === '\x1b') presses.push({ type: 'escape' })
    else if (!/[\p{Cc}\p{Cf}]/u.test(ch)) presses.push({ type: 'char', ch })
  }
  return presses
}

/** What the keys change: the selection, the details panel, the filter being typed, the sort. */
export interface InputState {
  selected: number
  details: boolean
  filter: string
  filtering: boolean
  sort: SortKey
  quit: boolean
}

export const INITIAL_INPUT: InputState = { selected: 0, details: false, filter: '', filtering: false, sort: 'name', quit: false }

/** A typed filter longer than this is not a service name (a paste gone wrong): the rest is dropped. */
const MAX_FILTER = 64

/** One key applied to the state; `rowCount` bounds the selection. Pure. */
export function applyPress (s: InputState, p: Press, rowCount: number): InputState {
  if (p.type === 'quit') return { ...s, quit: true }
  if (s.filtering) {
    if (p.type === 'return' || p.type === 'escape') return { ...s, filtering: false }
    if (p.type === 'backspace') return { ...s, filter: s.filter.slice(0, -1) }
    if (p.type === 'char') return s.filter.length >= MAX_FILTER ? s : { ...s, filter: s.filter + p.ch }
    return s
  }
  switch (p.type) {
    case 'up': return { ...s, selected: Math.max(0, s.selected - 1) }
    case 'down': return { ...s, selected: Math.max(0, Math.min(rowCount - 1, s.selected + 1)) }
    case 'return': return { ...s, details: !s.details }
    case 'char':
      if (p.ch === 'q') return { ...s, quit: true }
      if (p.ch === 'f') return { ...s, filter: '', filtering: true }
      if (p.ch === 's') return { ...s, sort: SORTS[(SORTS.indexOf(s.sort) + 1) % SORTS.length] }
      return s
    default: return s
  }
}
