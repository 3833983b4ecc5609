import { describe, expect, it } from 'vitest'
import { render } from 'ink-testing-library'
import { DependencyPanel, EventLog, Header, ServiceTable } from '../../src/ui/components.js'
import { rows, sparkline } from '../../src/ui/model.js'
import { applyWatch, emptyView } from '../../src/node/watch-view.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

const P = (c: string): string => `12D3KooW${c.repeat(44)}`
const rec = (name: string, peer: string, over: Partial<ProviderRecord> = {}): ProviderRecord =>
  ({ name, peerId: P(peer), addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${P(peer)}`], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', rttMs: 2, load: 0, lastSeen: 1000, ...over })

const base = applyWatch(emptyView(), { type: 'snapshot', ts: 1000, registry: { peerId: P('R'), addrs: [] }, services: [rec('log', 'A'), rec('grading', 'B', { requires: ['log'] })] })

describe('TUI components (pure)', () => {
  it('the table shows every instance; a killed service turns down and its dependents unsatisfied', () => {
    const before = render(<ServiceTable rows={rows(base, '', 'name')} selected={0} now={1500} wide={false} />)
    expect(before.lastFrame()).toMatch(/log\s+12D3KooW…AAAAAA\s+up/)
    const after = applyWatch(base, { type: 'change', ts: 2000, record: rec('log', 'A', { status: 'down', seq: 1, reason: 'connection-closed' }), previous: 'up' })
    const frame = render(<ServiceTable rows={rows(after, '', 'name')} selected={0} now={2500} wide={false} />).lastFrame()!
    expect(frame).toMatch(/log\s+12D3KooW…AAAAAA\s+down/)
    expect(frame).toMatch(/grading\s+12D3KooW…BBBBBB\s+degraded.*\bno\s*$/m)
    // The header counts by the same words: the dependent is degraded, not up.
    expect(render(<Header registry='/ip4/127.0.0.1/tcp/4001' view={after} connection='connected' />).lastFrame()).toMatch(/0 up · 1 degraded · 0 suspect · 1 down · 0 leaving/)
    const left = applyWatch(base, { type: 'change', ts: 2000, record: rec('log', 'A', { status: 'leaving', seq: 1, reason: 'left' }), previous: 'up' })
    expect(render(<Header registry='x' view={left} connection='connected' />).lastFrame()).toMatch(/0 down · 1 leaving/)
    expect(render(<ServiceTable rows={rows(left, '', 'name')} selected={0} now={2500} wide={false} />).lastFrame()).toMatch(/log\s+12D3KooW…AAAAAA\s+leaving/)
    expect(render(<EventLog events={left.events} max={5} />).lastFrame()).toMatch(/leaving\s+log 12D3KooW…AAAAAA \(left\)/)
    expect(render(<EventLog events={after.events} max={5} />).lastFrame()).toMatch(/down\s+log 12D3KooW…AAAAAA \(connection-closed\)/)
  })

  it('shows who provides what the selected service requires, and who depends on it', () => {
    const frame = render(<DependencyPanel view={base} name='grading' />).lastFrame()!
    expect(frame).toMatch(/requires log: 12D3KooW…AAAAAA/)
    expect(render(<DependencyPanel view={base} name='log' />).lastFrame()).toMatch(/required by: grading/)
  })

  it('says when it is reconnecting, filters and sorts', () => {
    expect(render(<Header registry='x' view={base} connection='reconnecting' />).lastFrame()).toMatch(/reconnecting \(showing the last known state\)/)
    const since = new Date(2026, 10, 22, 9, 5, 7).getTime()
    expect(render(<Header registry='x' view={emptyView()} connection='reconnecting' lastError='cannot reach the registry: connection refused' since={since} now={since + 1000} />).lastFrame()!.replace(/\n/g, ' '))
      .toMatch(/reconnecting since 09:05:07 \(nothing known yet\): cannot reach the registry: connection refused/)
    expect(rows(base, 'grad', 'name').map(r => r.record.name)).toEqual(['grading'])
    expect(rows(base, 'up', 'name')).toHaveLength(2)
    expect(rows(applyWatch(base, { type: 'change', ts: 2000, record: rec('log', 'A', { status: 'down', seq: 1 }), previous: 'up' }), 'degr', 'name').map(r => r.record.name)).toEqual(['grading'])
    expect(sparkline([1, 2, 4, 8])).toBe('▁▂▄█')
  })

  it('fits 80 columns', () => {
    const frame = render(<ServiceTable rows={rows(base, '', 'name')} selected={0} now={1500} wide={false} />).lastFrame()!
    for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
  })
})

describe('an entry of the Go registry API in the TUI and the web UI', () => {
  const url = 'http://127.0.0.1:4000'
  const view = applyWatch(emptyView(), { type: 'snapshot', ts: 1000, registry: { peerId: P('R'), addrs: [] }, services: [rec('log-service', 'H', { addrs: [], transport: 'http', url })] })

  it('is shown by its URL, marked http', async () => {
    const frame = render(<ServiceTable rows={rows(view, '', 'name')} selected={0} now={1500} wide />).lastFrame()!
    expect(frame).toMatch(/log-service\s+http\s+http:\/\/127\.0\.0\.1:4000\s+up/)
    const { instancesTable } = await import('../../src/services/webui/cluster-view.js')
    const html = String(instancesTable(view, 1500))
    expect(html).toContain('<code title="">http://127.0.0.1:4000</code>')
    expect(html).toMatch(/<code title="12D3KooW[^"]+">http<\/code>/)
  })
})
