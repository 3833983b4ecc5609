import { afterEach, describe, expect, it, vi } from 'vitest'
import { humanLogLine } from '../../src/node/logger.js'

describe('human log lines', () => {
  afterEach(() => { vi.useRealTimers() })

  it('a pino record is one short human line: time LEVEL msg key=value', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 18), toFake: ['Date'] })
    const line = JSON.stringify({ level: 'warn', time: Date.UTC(2026, 0, 1, 12, 3, 4, 5), pid: 7, role: 'service', name: 'x', component: 'session', reason: 'refuted', msg: 'the registry declared this node down: refuted' })
    expect(humanLogLine(`${line}\n`)).toBe('12:03:04.005 WARN the registry declared this node down: refuted component=session reason=refuted')
  })

  it('values with spaces or structure are quoted as JSON; a line that is not JSON stays as it is', () => {
    expect(humanLogLine(JSON.stringify({ level: 'info', msg: 'm', err: 'two words', n: { a: 1 } }))).toBe('INFO m err="two words" n={"a":1}')
    expect(humanLogLine('not json\n')).toBe('not json')
  })
})
