import { describe, expect, it } from 'vitest'
import { eventWord, HEALTH_WORDS, nameHealth, providerHealth } from '../../src/node/health.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const PEER = '12D3KooWAbcdefghijklmnopqrstuvwxyz'
let n = 0
function record (name: string, status: ProviderRecord['status'], requires: string[] = []): ProviderRecord {
  return { name, peerId: `${PEER}${n++}`, addrs: [], requires, version: '1.0.0', meta: {}, incarnation: 1, seq: 1, status }
}

describe('health words', () => {
  it('an up provider is degraded while a name it requires has no up provider; other statuses are their own word', () => {
    const h = providerHealth([record('log', 'suspect'), record('grading', 'up', ['log']), record('webui', 'up', ['grading']), record('old', 'leaving'), record('gone', 'down', ['log'])])
    expect(h.map(p => [p.record.name, p.health, p.missing])).toEqual([
      ['log', 'suspect', []], ['grading', 'degraded', ['log']], ['webui', 'up', []], ['old', 'leaving', []], ['gone', 'down', ['log']]
    ])
    expect(h.every(p => HEALTH_WORDS.includes(p.health))).toBe(true)
  })

  it('a requirement with one up provider among down ones is met; one nobody provides is missing', () => {
    const h = providerHealth([record('log', 'down'), record('log', 'up'), record('a', 'up', ['log', 'nosuch'])])
    expect(h[2]).toMatchObject({ health: 'degraded', missing: ['nosuch'] })
  })

  it('nameHealth: per name, the best instance\'s word and how many serve (up or degraded) of how many', () => {
    const h = providerHealth([record('g', 'down'), record('g', 'up', ['x']), record('g', 'up'), record('l', 'leaving'), record('s', 'suspect'), record('s', 'down')])
    expect(nameHealth(h)).toEqual([
      { name: 'g', health: 'up', up: 2, total: 3 },
      { name: 'l', health: 'leaving', up: 0, total: 1 },
      { name: 's', health: 'suspect', up: 0, total: 2 }
    ])
    expect(nameHealth([])).toEqual([])
  })

  it('eventWord: a graceful stop reads leaving in events too; other provider events by their own word', () => {
    expect(eventWord({ event: 'provider-down', reason: 'left' })).toBe('leaving')
    expect(eventWord({ event: 'provider-down', reason: 'connection-closed' })).toBe('down')
    expect(eventWord({ event: 'provider-up', reason: 'registered' })).toBe('up')
    expect(eventWord({ event: 'provider-removed' })).toBe('removed')
  })
})
