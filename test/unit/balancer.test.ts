import { describe, expect, it } from 'vitest'
import { Balancer, createStrategy, shouldRetry, type Candidate } from '../../src/node/balancer.js'
import { PeerUnavailableError, RequestTimeoutError, InvalidParamsError, GdsError } from '../../src/node/errors.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const c = (peerId: string, latencyMs?: number, load = 0): Candidate => ({ peerId, latencyMs, load })
const p = (peerId: string, status: ProviderRecord['status'] = 'up'): ProviderRecord =>
  ({ name: 's', peerId, addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status })

describe('strategies (pure)', () => {
  it('round-robin cycles', () => {
    const s = createStrategy('round-robin')
    const cs = [c('a'), c('b'), c('c')]
    expect([0, 1, 2, 3].map(() => s.select(cs, 0).peerId)).toEqual(['a', 'b', 'c', 'a'])
  })
  it('random follows the random number', () => {
    const s = createStrategy('random')
    expect(s.select([c('a'), c('b')], 0).peerId).toBe('a')
    expect(s.select([c('a'), c('b')], 0.99).peerId).toBe('b')
  })
  it('least-latency prefers the fastest, and tries an unmeasured one', () => {
    const s = createStrategy('least-latency')
    expect(s.select([c('a', 5), c('b', 2)], 0).peerId).toBe('b')
    expect(s.select([c('a', 5), c('b')], 0).peerId).toBe('b')
  })
  it('least-loaded prefers the least busy; ties broken by the random number', () => {
    const s = createStrategy('least-loaded')
    expect(s.select([c('a', 1, 3), c('b', 1, 1)], 0).peerId).toBe('b')
    expect(s.select([c('a', 1, 1), c('b', 1, 1)], 0.9).peerId).toBe('b')
  })
  it('an unknown strategy is a clear error', () => {
    expect(() => createStrategy('fastest')).toThrow(/unknown balancing strategy "fastest"/)
  })
})

describe('balancer failover', () => {
  const make = (providers: ProviderRecord[], suspects: string[] = []) => new Balancer({
    providers: () => providers, reportSuspect: id => { suspects.push(id) }, now: () => 0, random: () => 0
  })

  it('no provider: tells a name nobody registered from one whose providers are all down', async () => {
    await expect(make([]).call('nosuch', {}, async () => 'ok')).rejects.toMatchObject({ code: 'SERVICE_NOT_FOUND', message: 'service "nosuch" is not available: no service named nosuch is registered' })
    await expect(make([p('a', 'down'), p('b', 'down')]).call('s', {}, async () => 'ok')).rejects.toMatchObject({ message: 'service "s" is not available: s has 2 providers, none up' })
    expect(() => make([]).pick('nosuch')).toThrow(/no service named nosuch is registered/)
  })

  it('moves on to the next provider when one is unreachable, and reports it', async () => {
    const suspects: string[] = []
    const b = make([p('a'), p('b')], suspects)
    const tried: string[] = []
    const result = await b.call('s', {}, async prov => {
      tried.push(prov.peerId)
      if (prov.peerId === 'a') throw new PeerUnavailableError('gone')
      return 'ok'
    })
    expect(result).toBe('ok')
    expect(tried).toEqual(['a', 'b'])
    expect(suspects).toEqual(['a'])
  })

  it('does not retry an application error, nor a timeout of a non-idempotent call', async () => {
    const b = make([p('a'), p('b')])
    let n = 0
    await expect(b.call('s', {}, async () => { n++; throw new InvalidParamsError('bad') })).rejects.toMatchObject({ code: 'INVALID_PARAMS' })
    expect(n).toBe(1)
    await expect(b.call('s', {}, async () => { n++; throw new RequestTimeoutError('slow') })).rejects.toMatchObject({ name: 'RequestTimeoutError' })
    expect(n).toBe(2)
    expect(shouldRetry(new RequestTimeoutError('x'), true)).toBe(true)
    expect(shouldRetry(new GdsError('x', 'X'), true)).toBe(false)
  })

  it('prefers up over suspect, and skips down and leaving entirely', async () => {
    const b = make([p('d', 'down'), p('l', 'leaving'), p('s', 'suspect'), p('u')])
    const got: string[] = []
    for (let i = 0; i < 3; i++) await b.call('s', {}, async prov => { got.push(prov.peerId) })
    expect(got).toEqual(['u', 'u', 'u'])
    await expect(make([p('d', 'down')]).call('s', {}, async () => 1)).rejects.toMatchObject({ name: 'ServiceNotFoundError' })
  })
})
