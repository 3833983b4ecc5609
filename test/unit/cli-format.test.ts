import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { clusterLine, clusterStatusView } from '../../src/cli/cluster.js'
import { splitList } from '../../src/cli/common-flags.js'
import { parseSince } from '../../src/cli/flags.js'
import { formatEntry, peerViewText } from '../../src/cli/format.js'
import { statusView, toStatusJson } from '../../src/cli/status.js'
import { watchLine } from '../../src/cli/watch.js'
import type { ListResult, ProviderRecord } from '../../src/node/schemas.js'

const PEER = '12D3KooWAbcdefghijklmnopqrstuvwxyz'
const NOW = Date.parse('2026-11-22T14:00:00.000Z')

function record (name: string, status: ProviderRecord['status'], extra: Partial<ProviderRecord> = {}): ProviderRecord {
  return { name, peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/1'], requires: [], version: '1.0.0', meta: {}, incarnation: 1, seq: 2, status, ...extra }
}

// Human lines show the date only when it is not today: "today" is NOW's day here.
beforeAll(() => { vi.useFakeTimers({ now: NOW, toFake: ['Date'] }) })
afterAll(() => { vi.useRealTimers() })

describe('flag values', () => {
  it('parseSince: a duration ago, or an ISO time; anything else says what it takes', () => {
    expect(parseSince('10m', NOW)).toBe(NOW - 600_000)
    expect(parseSince(' 2h ', NOW)).toBe(NOW - 7_200_000)
    expect(parseSince('30s', NOW)).toBe(NOW - 30_000)
    expect(parseSince('1d', NOW)).toBe(NOW - 86_400_000)
    expect(parseSince('250ms', NOW)).toBe(NOW - 250)
    expect(parseSince('2026-11-22T13:00:00Z', NOW)).toBe(NOW - 3_600_000)
    expect(() => parseSince('yesterday', NOW)).toThrow(expect.objectContaining({ name: 'InvalidParamsError', message: expect.stringContaining('(got "yesterday")') }))
    expect(() => parseSince('10 years', NOW)).toThrow(/--since takes a duration/)
  })

  it('splitList: repeated and comma-separated alike', () => {
    expect(splitList(['log, grading', 'webui', ','])).toEqual(['log', 'grading', 'webui'])
    expect(splitList('log,grading')).toEqual(['log', 'grading'])
    expect(splitList(undefined)).toEqual([])
  })
})

describe('human lines', () => {
  it('formatEntry: time, level, service, short peer, message, then the other fields as key=value', () => {
    const entry = { ts: NOW + 1234, level: 'warn', service: 'grading', peerId: PEER, msg: 'slow query', inc: 1, seq: 9, pid: 42, role: 'grading', ms: 812, table: 'grades', ids: [1, 2] }
    expect(formatEntry(entry)).toBe('14:00:01.234 WARN  grading    12D3KooW…uvwxyz slow query  ms=812 table=grades ids=[1,2]')
    expect(formatEntry({ ts: NOW, level: 'info', service: 'log', peerId: 'short', msg: 'up', inc: 1, seq: 1 })).toBe('14:00:00.000 INFO  log        short up')
  })

  it('statusView: whose view with --peer, the counts by status, then the table', () => {
    const list: ListResult = {
      registry: { peerId: PEER, addrs: [] },
      services: [record('log', 'up', { rttMs: 3, lastSeen: NOW - 1500 }), record('demo', 'down', { requires: ['log'] })],
      source: { peerId: PEER, role: 'peer', registryConnected: false, registryLastSeen: NOW - 12_000, changedAt: NOW - 1_500, now: NOW }
    }
    expect(statusView(list, NOW).split('\n')).toEqual([
      'view of peer 12D3KooW…uvwxyz: the whole catalogue it holds (2 entries; registry NOT reachable from it; last heard from the registry 12.0s ago; last change 1.5s ago)',
      'registry 12D3KooW…uvwxyz  2 services: 1 up, 1 down',
      'demo 0/1 down · log 1/1 up',
      'NAME  PEER             STATUS  REQUIRES  RTT  LAST SEEN',
      'demo  12D3KooW…uvwxyz  down    log       -    -',
      'log   12D3KooW…uvwxyz  up      -         3ms  1.5s ago'
    ])
    expect(statusView({ registry: { peerId: PEER, addrs: [] }, services: [] }, NOW)).toBe('registry 12D3KooW…uvwxyz  0 services\nno services registered')
    // A peer that never heard from the registry says so; one from before freshness says nothing of it.
    expect(peerViewText({ peerId: PEER, role: 'peer', registryConnected: false, registryLastSeen: 0, changedAt: NOW, now: NOW }, 0))
      .toBe('view of peer 12D3KooW…uvwxyz: the whole catalogue it holds (0 entries; registry NOT reachable from it; last heard from the registry never; last change 0ms ago)')
    expect(peerViewText({ peerId: PEER, role: 'peer', registryConnected: true }, 3)).toBe('view of peer 12D3KooW…uvwxyz: the whole catalogue it holds (3 entries; registry connected)')
  })

  it('toStatusJson: the documented shape, nulls for what is not known, the source only for a peer\'s view', () => {
    const registry = { peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/4001'] }
    const fromRegistry = toStatusJson({ registry, services: [record('log', 'up', { reason: 'registered' })], source: { peerId: PEER, role: 'registry', registryConnected: true } })
    expect(fromRegistry).toEqual({ registry, services: [{ name: 'log', peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/1'], status: 'up', requires: [], incarnation: 1, seq: 2, lastSeen: null, rttMs: null, load: null, health: 'up', missing: [] }] })
    expect(toStatusJson({ registry, services: [], source: { peerId: PEER, role: 'peer', registryConnected: false } }).source).toEqual({ peerId: PEER, role: 'peer', registryConnected: false })
    // Registries on a shared store say which of them probes each entry.
    expect(toStatusJson({ registry, services: [{ ...record('log', 'up'), registry: PEER }] }).services[0].registry).toBe(PEER)
  })

  it('statusView and toStatusJson with filters: health judged on the whole catalogue, degraded where a required name has no up provider', () => {
    const list: ListResult = {
      registry: { peerId: PEER, addrs: [] },
      services: [
        record('log', 'leaving', { reason: 'left' }),
        record('grading', 'up', { requires: ['log'], peerId: `${PEER}1` }),
        record('grading', 'down', { requires: ['log'], peerId: `${PEER}2` }),
        record('webui', 'up', { requires: ['grading', 'log'] })
      ]
    }
    expect(statusView(list, NOW).split('\n').slice(0, 2)).toEqual([
      'registry 12D3KooW…uvwxyz  4 services: 2 degraded, 1 down, 1 leaving',
      'grading 1/2 degraded (no log) · log 0/1 leaving · webui 1/1 degraded (no log)'
    ])
    const onlyGrading = { services: ['grading'], health: [] }
    expect(statusView(list, NOW, onlyGrading).split('\n')).toEqual([
      'registry 12D3KooW…uvwxyz  2 services: 1 degraded, 1 down',
      'grading 1/2 degraded (no log)',
      'NAME     PEER             STATUS    REQUIRES  RTT  LAST SEEN',
      'grading  12D3KooW…vwxyz1  degraded  log       -    -',
      'grading  12D3KooW…vwxyz2  down      log       -    -'
    ])
    expect(toStatusJson(list, { services: [], health: ['degraded'] }).services.map(s => [s.name, s.status, s.health, s.missing]))
      .toEqual([['grading', 'up', 'degraded', ['log']], ['webui', 'up', 'degraded', ['log']]])
    expect(toStatusJson(list, { services: ['nosuch'], health: [] }).services).toEqual([])
    expect(statusView(list, NOW, { services: ['nosuch'], health: ['up'] })).toBe('registry 12D3KooW…uvwxyz  0 services\nno service matches --service nosuch --status up')
  })

  it('watchLine: the snapshot as a table, a change as its event, nothing for figures or a non-event', () => {
    expect(watchLine({ type: 'snapshot', ts: NOW, registry: { peerId: PEER, addrs: [] }, services: [] })).toBe('no services registered')
    expect(watchLine({ type: 'change', ts: NOW, record: record('log', 'down', { reason: 'heartbeat-timeout' }), previous: 'up' })).toBe('14:00:00.000 down    log 12D3KooW…uvwxyz (heartbeat-timeout, via hub)')
    expect(watchLine({ type: 'change', ts: NOW, record: record('log', 'up'), previous: 'up' })).toBeUndefined()
    expect(watchLine({ type: 'figures', ts: NOW, peers: [{ peerId: PEER, rttMs: 1 }] })).toBeUndefined()
  })

  it('clusterLine: members as they listen, unexpected exits, restarts, giving up, the registry\'s provider events, and the summary', () => {
    const defaults = { registry: true, dataDir: true }
    expect(clusterLine({ event: 'member-listening', name: 'log', role: 'log', peerId: PEER, addrs: ['/ip4/10.0.0.1/tcp/5', '/ip4/127.0.0.1/tcp/5'], pid: 7, restarts: 0, ts: NOW }, defaults))
      .toBe('log        pid 7  12D3KooW…uvwxyz  /ip4/127.0.0.1/tcp/5')
    expect(clusterLine({ event: 'member-listening', name: 'log', role: 'log', peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/5'], pid: 8, restarts: 2, ts: NOW }, defaults))
      .toBe('log        pid 8  12D3KooW…uvwxyz  /ip4/127.0.0.1/tcp/5  (restart 2)')
    expect(clusterLine({ event: 'member-listening', name: 'etcd', role: 'etcd', addrs: ['etcd://127.0.0.1:20002'], pid: 9, restarts: 0, ts: NOW }, defaults))
      .toBe('etcd       pid 9  etcd://127.0.0.1:20002')
    const lost = { event: 'store-state' as const, store: '127.0.0.1:20002', state: 'unreachable' as const, pending: 0, error: 'Connection dropped', ts: NOW }
    expect(clusterLine({ event: 'member-event', name: 'registry-2', detail: lost, ts: NOW }, defaults))
      .toBe('registry-2 catalogue store 127.0.0.1:20002 unreachable (Connection dropped); serving from memory')
    expect(clusterLine({ event: 'member-exited', name: 'webui', code: 1, signal: null, expected: false, lastError: 'port in use', ts: NOW }, defaults)).toBe('webui      exited (code 1): port in use')
    expect(clusterLine({ event: 'member-exited', name: 'webui', code: 0, signal: 'SIGINT', expected: true, ts: NOW }, defaults)).toBeUndefined()
    expect(clusterLine({ event: 'member-exited', name: 'grading', code: null, signal: 'SIGKILL', expected: false, restartInMs: 500, attempt: 2, maxRestarts: 5, ts: NOW }, defaults))
      .toBe('grading    exited (SIGKILL); restarting in 0.5 s (2/5)')
    expect(clusterLine({ event: 'member-gave-up', name: 'grading', restarts: 5, windowMs: 60_000, command: 'gds node start --role grading --data-dir /c/grading', ts: NOW }, defaults))
      .toBe('grading    restarted 5 times within 60 s; giving up on it. To start it by hand (same data):\n    gds node start --role grading --data-dir /c/grading')
    const down = { event: 'provider-down' as const, name: 'log', peerId: PEER, via: 'local' as const, reason: 'connection-closed', addrs: [], ts: NOW }
    expect(clusterLine({ event: 'member-event', name: 'registry', detail: down, ts: NOW }, defaults)).toBe('registry   down    log 12D3KooW…uvwxyz (connection-closed, via local)')
    expect(clusterLine({ event: 'member-event', name: 'grading', detail: down, ts: NOW }, defaults)).toBeUndefined()
    const up = { event: 'cluster-up' as const, registry: '/ip4/127.0.0.1/tcp/4101/p2p/x', web: 'http://127.0.0.1:8080/', members: 4, dataDir: '/tmp/c', failed: [], ts: NOW }
    expect(clusterLine(up, { registry: false, dataDir: false })).toBe([
      '',
      'cluster up: registry /ip4/127.0.0.1/tcp/4101/p2p/x',
      '  web UI:  http://127.0.0.1:8080/  (grades)   http://127.0.0.1:8080/cluster  (live cluster page)',
      '  from another terminal:',
      '    gds status --registry /ip4/127.0.0.1/tcp/4101/p2p/x',
      '    gds grades list --registry /ip4/127.0.0.1/tcp/4101/p2p/x',
      '    gds logs --follow --registry /ip4/127.0.0.1/tcp/4101/p2p/x',
      '    gds cluster status -d /tmp/c',
      '    gds cluster down -d /tmp/c',
      '  Ctrl-C stops every member',
      ''
    ].join('\n'))
    expect(clusterLine(up, defaults)).toContain('\n    gds status\n')
    expect(clusterLine(up, defaults)).toContain('\n    gds cluster down\n')
    expect(clusterLine({ ...up, failed: ['webui'] }, defaults)).toContain('\n  not running (--keep-going; retried with back-off): webui\n')
  })

  it('clusterStatusView: the supervisor, then each member\'s pid, state and restarts', () => {
    const view = clusterStatusView({
      pid: 42, dataDir: '/tmp/c', startedAt: NOW - 120_000, registry: '/ip4/127.0.0.1/tcp/4001/p2p/x',
      members: [
        { name: 'registry', role: 'registry', pid: 43, state: 'running', restarts: 0, since: NOW - 120_000 },
        { name: 'grading', role: 'grading', state: 'restarting', restarts: 2, since: NOW - 500 }
      ]
    }, NOW)
    expect(view.split('\n')).toEqual([
      'cluster supervised by process 42 from /tmp/c, up 2m',
      '  registry /ip4/127.0.0.1/tcp/4001/p2p/x',
      'NAME      ROLE      PID  STATE       RESTARTS  SINCE',
      'registry  registry  43   running     0         2m ago',
      'grading   grading   -    restarting  2         500ms ago'
    ])
  })
})
