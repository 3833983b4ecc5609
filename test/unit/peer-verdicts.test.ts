import { describe, expect, it } from 'vitest'
import { PeerVerdicts } from '../../src/node/peer-verdicts.js'

const P = 'provider'
const v = { incarnation: 5, seq: 3 }
const policy = { quorum: 1, evidenceTtlMs: 10_000 }

describe('peer verdicts: the quorum rule (own failed check + another member\'s)', () => {
  it('declares down with our own failed check and one other member\'s, in either order, once', () => {
    const a = new PeerVerdicts(policy)
    expect(a.ownCheck(P, v, false, 0)).toBe('noted')
    expect(a.accused(P, v, v, 'm1', 10)).toBe('down')
    expect(a.declared(P, v)).toBe(true)
    expect(a.accused(P, v, v, 'm2', 20)).toBe('known')
    expect(a.ownCheck(P, v, false, 30)).toBe('known')
    const b = new PeerVerdicts(policy)
    expect(b.accused(P, v, v, 'm1', 0, true)).toBe('noted')
    expect(b.ownCheck(P, v, false, 5)).toBe('down')
    expect(b.declaredPeers()).toEqual([P])
  })

  it('one member\'s word never suffices, however often it is said; nor our own failure alone', () => {
    const c = new PeerVerdicts(policy)
    for (let i = 0; i < 1_000; i++) expect(c.accused(P, v, v, 'forger', i, true)).toBe('noted')
    expect(c.declared(P, v)).toBe(false)
    // Our own check succeeds: the forger's word stays a word.
    expect(c.ownCheck(P, v, true, 1_000)).toBe('noted')
    expect(c.accused(P, v, v, 'forger', 1_001, true)).toBe('noted')
    const d = new PeerVerdicts(policy)
    expect(d.ownCheck(P, v, false, 0)).toBe('noted')
    expect(d.ownCheck(P, v, false, 1)).toBe('noted')
    expect(d.declared(P, v)).toBe(false)
  })

  it('a higher quorum needs that many distinct others; the accused cannot count, nor can we be accused by ourselves', () => {
    const e = new PeerVerdicts({ ...policy, quorum: 2 })
    e.ownCheck(P, v, false, 0)
    expect(e.accused(P, v, v, 'm1', 1)).toBe('noted')
    expect(e.accused(P, v, v, 'm1', 2)).toBe('noted')
    expect(e.accused(P, v, v, P, 3)).toBe('stale')
    expect(e.accused(P, v, v, 'm2', 4)).toBe('down')
    expect(() => new PeerVerdicts({ ...policy, quorum: 0 })).toThrow(RangeError)
  })

  it('a member that reaches it, or our own success, clears our failure: a verdict needs a new failed check', () => {
    const f = new PeerVerdicts(policy)
    f.ownCheck(P, v, false, 0)
    f.vouched(P, v)
    expect(f.accused(P, v, v, 'm1', 1)).toBe('noted')
    expect(f.ownCheck(P, v, false, 2)).toBe('down')
    const g = new PeerVerdicts(policy)
    g.ownCheck(P, v, false, 0)
    g.ownCheck(P, v, true, 1)
    expect(g.accused(P, v, v, 'm1', 2)).toBe('noted')
  })

  it('evidence older than the ttl does not count', () => {
    const h = new PeerVerdicts(policy)
    h.accused(P, v, v, 'm1', 0, true)
    expect(h.ownCheck(P, v, false, policy.evidenceTtlMs + 1)).toBe('noted')
    expect(h.gossipedAccusers(P, v, policy.evidenceTtlMs + 1)).toBe(0)
    expect(h.accused(P, v, v, 'm2', policy.evidenceTtlMs + 2)).toBe('down')
  })

  it('refutation: a newer version starts afresh; evidence about an older (stale) or a newer-than-held version is ignored', () => {
    const r = new PeerVerdicts(policy)
    r.ownCheck(P, v, false, 0)
    expect(r.accused(P, v, v, 'm1', 1)).toBe('down')
    // The owner refuted at seq + 1: the verdict is about the old version only.
    const refuted = { incarnation: 5, seq: 4 }
    expect(r.declared(P, refuted)).toBe(false)
    expect(r.ownCheck(P, refuted, true, 2)).toBe('noted')
    expect(r.accused(P, v, refuted, 'm1', 3)).toBe('stale')
    expect(r.ownCheck(P, v, false, 4)).toBe('stale')
    expect(r.accused(P, { incarnation: 5, seq: 9 }, refuted, 'm1', 5)).toBe('stale')
    expect(r.accused(P, { incarnation: 4, seq: 99 }, refuted, 'm1', 6)).toBe('stale')
    expect(r.declared(P, refuted)).toBe(false)
    // A restart (new incarnation) too.
    const restarted = { incarnation: 6, seq: 0 }
    expect(r.ownCheck(P, restarted, false, 7)).toBe('noted')
    expect(r.accused(P, restarted, restarted, 'm2', 8)).toBe('down')
  })

  it('counts who said so on gossip (others need not repeat it); clear forgets everything', () => {
    const s = new PeerVerdicts(policy)
    s.accused(P, v, v, 'm1', 0, true)
    s.accused(P, v, v, 'm2', 0, false)
    s.accused(P, v, v, 'm3', 0, true)
    expect(s.gossipedAccusers(P, v, 1)).toBe(2)
    expect(s.gossipedAccusers(P, { incarnation: 5, seq: 4 }, 1)).toBe(0)
    s.clear()
    expect(s.size).toBe(0)
  })

  it('a flood of accusations about many peers keeps a bounded number of cases', () => {
    const t = new PeerVerdicts(policy)
    for (let i = 0; i < 10_000; i++) t.accused(`p${i}`, v, v, 'forger', i, true)
    expect(t.size).toBeLessThanOrEqual(4_096)
  })
})
