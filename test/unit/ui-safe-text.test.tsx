import { describe, expect, it } from 'vitest'
import { render } from 'ink-testing-library'
import { DependencyPanel, EventLog, ServiceTable } from '../../src/ui/components.js'
import { rows } from '../../src/ui/model.js'
import { applyWatch, emptyView } from '../../src/node/watch-view.js'
import type { ProviderRecord } from '../../src/node/schemas.js'

// Names are held to the service-name pattern by the registry; what a peer says besides (its
// address, a reason) and whatever an older registry let through still reach the screen.
const EVIL = 'x\x1b]0;owned\x07\x1b[2J\u202e'
const rec = (name: string, peer: string, over: Partial<ProviderRecord> = {}): ProviderRecord =>
  ({ name, peerId: `12D3KooW${peer.repeat(44)}`, addrs: [`/ip4/127.0.0.1/tcp/1${EVIL}`], requires: [], version: '1', meta: {}, incarnation: 1, seq: 0, status: 'up', lastSeen: 1000, ...over })

describe('the TUI neutralises what peers sent', () => {
  it('table cells, the dependency panel and event lines show escapes, never raw control characters', () => {
    let view = applyWatch(emptyView(), { type: 'snapshot', ts: 1000, registry: { peerId: 'r', addrs: [] }, services: [rec(EVIL, 'A'), rec('grading', 'B', { requires: [EVIL] })] })
    view = applyWatch(view, { type: 'change', ts: 2000, record: rec(EVIL, 'A', { status: 'down', seq: 1, reason: EVIL as any }), previous: 'up' })
    const frames = [
      render(<ServiceTable rows={rows(view, '', 'name')} selected={-1} now={1500} wide />).lastFrame()!,
      render(<DependencyPanel view={view} name='grading' />).lastFrame()!,
      render(<DependencyPanel view={view} name={EVIL} />).lastFrame()!,
      render(<EventLog events={view.events} max={5} />).lastFrame()!
    ]
    for (const f of frames) {
      expect(f).not.toMatch(/\x07|\x1b\]|\x1b\[2J|\u202e/)
      expect(f).toContain('x\\x1b]0;owned')
    }
  })
})
