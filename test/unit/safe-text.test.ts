import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatEntry, formatEvent, statusTable, table } from '../../src/cli/format.js'
import { studentsTable, studentView } from '../../src/cli/grading.js'
import { humanLogLine } from '../../src/node/logger.js'
import { CONTROL_CHARS, firstControlChar, safeJson, safeLines, safeText } from '../../src/node/safe-text.js'
import { jsonLine } from '../../src/cli/output.js'
import type { ProviderRecord } from '../../src/node/schemas.js'
import { gradingParams } from '../../src/services/grading/index.js'

/** Any code point, control characters included, and strings built around the dangerous ones. */
const DANGEROUS = ['\x1b[31m', '\x1b]0;owned\x07', '\x1b]52;c;cm0gLXJm\x07', '\x9b2J', '\x7f', '\r', '\n', '\t', '\u202e', '\u2066', '\u200f', '\u061c', '\u2028', '\0']
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.oneof(fc.constantFrom(...DANGEROUS), fc.string({ maxLength: 5 })), { maxLength: 12 }).map(parts => parts.join(''))
)
/** Every character a terminal acts on, for the "no raw control byte left" checks. */
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

describe('safeText: one neutralising function for every human output', () => {
  it('leaves no control character, and changes text that has none not at all', () => {
    fc.assert(fc.property(anyText, s => {
      const out = safeText(s)
      expect(RAW.test(out)).toBe(false)
      expect(out === s).toBe(!CONTROL_CHARS.test(s))
    }), { numRuns: 2_000 })
  })

  it('shows each control character as a readable escape, in place', () => {
    expect(safeText('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m')
    expect(safeText('a\x1b]0;title\x07b')).toBe('a\\x1b]0;title\\x07b')
    expect(safeText('\x9b2J\x7f')).toBe('\\x9b2J\\x7f')
    expect(safeText('abc\u202edcba')).toBe('abc\\u202edcba')
    expect(safeText('one\ntwo\tthree\r')).toBe('one\\x0atwo\\x09three\\x0d')
    // Printable Unicode is not touched: accents, CJK, emoji with joiners.
    expect(safeText('Zoë 李 👩‍💻')).toBe('Zoë 李 👩‍💻')
  })

  it('safeLines keeps the line breaks of multi-line output and neutralises each line', () => {
    fc.assert(fc.property(fc.array(anyText, { minLength: 1, maxLength: 5 }), lines => {
      const text = lines.join('\n')
      const out = safeLines(text)
      expect(out.split('\n')).toHaveLength(text.split('\n').length)
      expect(RAW.test(out.replaceAll('\n', ''))).toBe(false)
    }))
  })

  it('--json lines carry no raw control character either, and parse to the very same value', () => {
    fc.assert(fc.property(fc.jsonValue(), anyText, (v, s) => {
      for (const value of [v, { name: s, nested: [s, v] }]) {
        const line = jsonLine(value)
        expect(RAW.test(line)).toBe(false)
        expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(value)))
      }
    }), { numRuns: 1_000 })
    expect(safeJson(`"a\u009bb"`)).toBe(String.raw`"a\u009bb"`)
    expect(jsonLine({ t: 'x\x9b\u202e' })).toBe('{"t":"x\\u009b\\u202e"}')
  })

  it('firstControlChar names the first one, or nothing', () => {
    expect(firstControlChar('Bob\x1b[2J')).toBe('\\x1b')
    expect(firstControlChar('Bob\u202e')).toBe('\\u202e')
    expect(firstControlChar('Bob')).toBeUndefined()
  })
})

describe('the human renders neutralise what peers sent', () => {
  const evil = 'Bob\x1b]0;owned\x07\x1b[2J\u202eevil'

  it('tables: cells are neutralised before measuring, so columns stay aligned', () => {
    fc.assert(fc.property(fc.array(fc.tuple(anyText, anyText), { minLength: 1, maxLength: 6 }), rows => {
      const out = table(['A', 'B'], rows.map(([a, b]) => [a, b]))
      expect(RAW.test(out.replaceAll('\n', ''))).toBe(false)
      // One line per row, plus the header: a newline in a cell cannot add one.
      expect(out.split('\n')).toHaveLength(rows.length + 1)
    }))
    const t = studentsTable([{ id: 1, firstName: evil, lastName: 'X', average: 90, gradeCount: 1 }, { id: 22, firstName: 'Ann', lastName: 'Y', average: null, gradeCount: 0 }])
    expect(RAW.test(t.replaceAll('\n', ''))).toBe(false)
    const [head, ...rows] = t.split('\n')
    expect(rows.map(r => r.slice(head.indexOf('AVERAGE')).split(' ')[0])).toEqual(['90.0', '-'])
    // The grades table under a student's name line (which the command's output edge neutralises: see grades-cli.test.ts).
    const grades = studentView({ id: 1, firstName: 'A', lastName: 'X', average: 90, gradeCount: 1, grades: [{ id: 1, title: evil, type: 'quiz', score: 90, createdAt: 0 }] })
    expect(RAW.test(grades.replaceAll('\n', ''))).toBe(false)
    expect(grades).toContain('\\x1b]0;owned\\x07')
  })

  it('status table, node events, cluster log lines and the human stderr log', () => {
    const rec = (name: string): ProviderRecord => ({ name, peerId: '12D3KooWAbcdefghijklmnopqrstuvwxyz', addrs: [], requires: [evil], version: '1', meta: {}, incarnation: 1, seq: 1, status: 'up' })
    expect(RAW.test(statusTable([rec('a')], 0).replaceAll('\n', ''))).toBe(false)
    const refused = formatEvent({ event: 'registration-refused', error: `no\n${evil}`, ts: 0 })
    expect(refused.split('\n')).toHaveLength(1)
    expect(RAW.test(refused)).toBe(false)
    // A forged second line in a log message stays on its line.
    const entry = formatEntry({ ts: 0, level: 'info', service: 'grading', peerId: 'p', msg: `ok\n00:00:00.000 INFO  grading ${evil}`, extra: evil } as any)
    expect(entry.split('\n')).toHaveLength(1)
    expect(RAW.test(entry)).toBe(false)
    const stderr = humanLogLine(JSON.stringify({ level: 'warn', time: 0, msg: evil, err: evil }))
    expect(RAW.test(stderr)).toBe(false)
    expect(RAW.test(humanLogLine(`not json ${evil}`))).toBe(false)
  })
})

describe('grading refuses control characters at input', () => {
  it('in names and titles, with a message that names the character', () => {
    const r = gradingParams.addStudent.safeParse({ firstName: 'Bob\x1b[31m', lastName: 'Ok' })
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]?.message).toBe('a name cannot contain control characters (found \\x1b); use printable text')
    const g = gradingParams.addGrade.safeParse({ studentId: 1, title: 'Quiz\u202e1', type: 'quiz', score: 1 })
    expect(g.error?.issues[0]?.message).toBe('a title cannot contain control characters (found \\u202e); use printable text')
  })

  it('every name with a control character inside is refused; printable ones pass', () => {
    const printable = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter(s => !CONTROL_CHARS.test(s) && s.trim() !== '')
    fc.assert(fc.property(printable, fc.constantFrom(...DANGEROUS), printable, (a, c, b) => {
      expect(gradingParams.addStudent.safeParse({ firstName: `${a}${c}${b}`, lastName: 'x' }).success).toBe(false)
      expect(gradingParams.addGrade.safeParse({ studentId: 1, title: `${a}${c}${b}`, type: 'test', score: 5 }).success).toBe(false)
    }))
    fc.assert(fc.property(printable, a => {
      expect(gradingParams.addStudent.safeParse({ firstName: a, lastName: 'x' }).success).toBe(a.trim().length <= 64)
    }))
  })
})
