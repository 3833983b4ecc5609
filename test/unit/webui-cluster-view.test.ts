import { describe, expect, it } from 'vitest'
import { clusterParts } from '../../src/services/webui/cluster-view.js'
import type { ProviderRecord } from '../../src/node/schemas.js'
import { applyWatch, emptyView } from '../../src/node/watch-view.js'

const P = (c: string): string => `12D3KooW${c.repeat(44)}`
const rec = (name: string, peer: string, over: Partial<ProviderRecord> = {}): ProviderRecord =>
  ({ name, peerId: P(peer), addrs: [], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', ...over })

describe('web cluster page: the health words of gds status and the TUI', () => {
  it('a dependent of a departed service is degraded; the departed one is leaving, counted as such, not as down', () => {
    const view = applyWatch(emptyView(), {
      type: 'snapshot', ts: 1000, registry: { peerId: P('R'), addrs: [] },
      services: [rec('log', 'A', { status: 'leaving', reason: 'left' }), rec('grading', 'B', { requires: ['log'] })]
    })
    const parts = clusterParts(view, true, 2000)
    expect(parts.status).toMatch(/<b>0<\/b> up · <b>1<\/b> degraded · <b>0<\/b> suspect · <b>0<\/b> down · <b>1<\/b> leaving$/)
    expect(parts.table).toMatch(/<td>grading<\/td><td><span class="pill degraded">degraded<\/span>/)
    expect(parts.table).toMatch(/<td>log<\/td><td><span class="pill leaving">leaving<\/span>/)
    const after = applyWatch(applyWatch(emptyView(), { type: 'snapshot', ts: 1000, registry: { peerId: P('R'), addrs: [] }, services: [rec('log', 'A')] }),
      { type: 'change', ts: 1500, record: rec('log', 'A', { status: 'leaving', seq: 1, reason: 'left' }), previous: 'up' })
    expect(clusterParts(after, true, 2000).events).toMatch(/<span class="pill leaving">leaving<\/span> log AAAAAA \(left\)/)
  })

  it('with the registry away, says whose view it shows and how fresh it is (the text is escaped)', () => {
    const view = applyWatch(emptyView(), { type: 'snapshot', ts: 1000, registry: { peerId: P('R'), addrs: [] }, services: [rec('log', 'A'), rec('grading', 'B')] })
    const source = { peerId: P('B'), role: 'peer' as const, registryConnected: false, registryLastSeen: 1_000, changedAt: 4_000, now: 5_000 }
    expect(clusterParts(view, false, 5000, source).status)
      .toBe('<span class="pill down">registry unreachable</span> showing the view of peer 12D3KooW…BBBBBB: the whole catalogue it holds (2 entries; registry NOT reachable from it; last heard from the registry 4.0s ago; last change 1.0s ago); reconnecting…')
    expect(clusterParts(view, false, 5000).status).toMatch(/showing the last known state/)
  })
})
