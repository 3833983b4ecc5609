import { describe, expect, it } from 'vitest'
import { CLUSTER_ETCD_PORTS, clusterEtcdPorts, createConfig } from '../../src/node/config.js'
import { decodeFrame } from '../../src/node/framing.js'
import { registryRequest } from '../../src/node/schemas.js'
import { backoffDelay, jitter } from '../../src/node/backoff.js'

const env = { GDS_HOME: '/srv/gds' }

describe('config', () => {
  it('has documented defaults, by role', () => {
    const r = createConfig({ role: 'registry' }, env)
    expect(r).toMatchObject({ name: 'registry', listen: ['/ip4/0.0.0.0/tcp/4001'], dataDir: '/srv/gds/registry', maxEntries: 10_000, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500, failureThreshold: 2 })
    const s = createConfig({ role: 'service', name: 'demo' }, { ...env, GDS_REGISTRY: '/ip4/10.0.0.5/tcp/4001' })
    expect(s).toMatchObject({ listen: ['/ip4/0.0.0.0/tcp/0'], registry: '/ip4/10.0.0.5/tcp/4001', dataDir: '/srv/gds/demo' })
    expect(createConfig({ role: './svc/notifier.js' }, env).name).toBe('notifier')
  })

  it('states the rule that was broken', () => {
    expect(() => createConfig({ role: 'registry', heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1000 }, env)).toThrow(/timeout \(1000 ms\) must be shorter than the heartbeat interval \(1000 ms\)/)
    expect(() => createConfig({ role: 'registry', failureThreshold: 0 }, env)).toThrow(/failure threshold/)
    for (const bad of ['Demo', 'a b', '<script>', 'x'.repeat(64), '-x']) {
      expect(() => createConfig({ role: 'service', name: bad }, env), bad).toThrow(/not a valid service name/)
    }
    expect(() => createConfig({ role: 'service', name: 'a', requires: ['a'] }, env)).toThrow(/cannot require itself/)
    for (const bad of [0, -1, 1.5, 100_001, Number.NaN]) expect(() => createConfig({ role: 'registry', maxEntries: bad }, env), String(bad)).toThrow(/--max-entries must be a whole number from 1 to 100000/)
  })
})

describe('cluster etcd ports', () => {
  it('are the same for a data dir every time, an even client port with the peer port next, in range, and differ between data dirs', () => {
    const dirs = Array.from({ length: 50 }, (_, i) => `/tmp/cluster-${i}`)
    const ports = dirs.map(d => clusterEtcdPorts(d))
    expect(dirs.map(d => clusterEtcdPorts(d))).toEqual(ports)
    for (const p of ports) {
      expect(p.client % 2).toBe(0)
      expect(p.peer).toBe(p.client + 1)
      expect(p.client).toBeGreaterThanOrEqual(CLUSTER_ETCD_PORTS.base)
      expect(p.peer).toBeLessThan(CLUSTER_ETCD_PORTS.base + CLUSTER_ETCD_PORTS.span)
    }
    expect(new Set(ports.map(p => p.client)).size).toBeGreaterThan(45)
    expect(clusterEtcdPorts('/tmp/cluster-0', 4100)).toEqual({ client: 4100, peer: 4101 })
  })
})

describe('schemas and frames', () => {
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  it('rejects bytes that are not UTF-8 JSON, and shapes that do not fit, saying where', () => {
    expect(() => decodeFrame(new Uint8Array([0xff, 0xfe]), registryRequest)).toThrow(/not valid UTF-8 JSON/)
    expect(() => decodeFrame(enc({ op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1.5, seq: 0 }] }), registryRequest)).toThrow(/services\.0\.incarnation/)
    expect(() => decodeFrame(enc({ op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1, seq: 0, extra: 1 }] }), registryRequest)).toThrow(/malformed/)
    expect(() => decodeFrame(enc({ op: 'suspect', peerId: 'nope' }), registryRequest)).toThrow(/peerId/)
  })
  it('applies defaults to a valid registration', () => {
    const r = decodeFrame(enc({ op: 'register', services: [{ name: 'ok', addrs: [], incarnation: 1, seq: 0 }] }), registryRequest)
    expect(r).toEqual({ op: 'register', services: [{ name: 'ok', addrs: [], requires: [], version: '0.0.0', meta: {}, incarnation: 1, seq: 0 }] })
  })
})

describe('backoff', () => {
  it('doubles from min to max with equal jitter', () => {
    expect(backoffDelay(0, 100, 1000, 0)).toBe(50)
    expect(backoffDelay(0, 100, 1000, 1)).toBe(100)
    expect(backoffDelay(3, 100, 1000, 1)).toBe(800)
    expect(backoffDelay(50, 100, 1000, 1)).toBe(1000)
    expect(backoffDelay(1e9, 100, 1000, 0.5)).toBe(750)
    expect(jitter(1000, 0.1, 0)).toBe(900)
    expect(jitter(1000, 0.1, 1)).toBe(1100)
  })
})
