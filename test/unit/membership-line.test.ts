import { describe, expect, it } from 'vitest'
import { membershipLine } from '../../src/services/registry/hub.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const PEER = '12D3KooWAbcdefghijklmnopqrstuvwxyz'
const rec = (over: Partial<ProviderRecord>): ProviderRecord =>
  ({ name: 'grading', peerId: PEER, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 1, status: 'up', ...over })

describe('the registry\'s membership log lines', () => {
  it('say who, in the health words, and why', () => {
    expect(membershipLine({ record: rec({ reason: 'registered' }) })).toBe('grading 12D3KooW…uvwxyz up (registered)')
    expect(membershipLine({ record: rec({ status: 'down', reason: 'connection-closed' }), previous: 'up' })).toBe('grading 12D3KooW…uvwxyz down (connection-closed)')
    expect(membershipLine({ record: rec({ status: 'leaving' }), previous: 'up' })).toBe('grading 12D3KooW…uvwxyz leaving (left)')
    expect(membershipLine({ record: rec({ status: 'suspect' }), previous: 'up' })).toBe('grading 12D3KooW…uvwxyz suspect (heartbeat-timeout)')
    expect(membershipLine({ record: rec({ status: 'down' }), removed: true })).toBe('grading 12D3KooW…uvwxyz removed from the catalogue')
  })
})
