import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CATALOG_FILE } from '../../src/services/registry/store/file-store.js'
import { ProcessCluster, runCli } from '../helpers/cli.js'

describe('cluster: the registry restarts (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('kill -9 the registry, restart it on the same data dir and port: everyone is back in gds status', async () => {
    const regDir = await cluster.dir()
    const first = await cluster.registry(regDir)
    const port = Number(cluster.registryAddr.split('/')[4])
    const regId = (await first.waitFor(e => e.event === 'listening', 'listening')).peerId
    const log = await cluster.service('log')
    const demo = await cluster.service('demo', ['log'])
    const [l0, d0] = [log.mark(), demo.mark()]
    // The registry writes its catalogue a moment after a change: killed before, it has none to load.
    const ids = await Promise.all([log, demo].map(async p => (await p.waitFor(e => e.event === 'listening', 'listening')).peerId))
    for (const deadline = Date.now() + 10_000; ;) {
      const saved = await readFile(join(regDir, CATALOG_FILE), 'utf8').catch(() => '')
      if (ids.every(id => saved.includes(id))) break
      if (Date.now() > deadline) throw new Error(`the registry never saved its catalogue: ${saved.slice(0, 200)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }

    first.signal('SIGKILL')
    await first.exited
    await log.waitFor(e => e.event === 'registry-lost', 'log: registry-lost', 15_000, l0)
    await demo.waitFor(e => e.event === 'registry-lost', 'demo: registry-lost', 15_000, d0)

    // The port may linger for a moment after a kill: retry the start briefly.
    let second
    for (let attempt = 0; ; attempt++) {
      second = cluster.start(['--role', 'registry', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', regDir, '--heartbeat-interval', '200', '--heartbeat-timeout', '150'])
      const ok = await second.waitFor(e => e.event === 'listening', 'listening', 10_000).then(() => true, () => false)
      if (ok) break
      if (attempt > 10) throw new Error(`cannot restart the registry: ${second.stderr}`)
    }
    expect((await second.waitFor(e => e.event === 'listening', 'listening')).peerId).toBe(regId)
    await second.waitFor(e => e.event === 'catalog-loaded', 'catalog-loaded')
    await log.waitFor(e => e.event === 'registered', 'log re-registered', 15_000, l0)
    await demo.waitFor(e => e.event === 'registered', 'demo re-registered', 15_000, d0)

    let status: any
    const deadline = Date.now() + 15_000
    for (;;) {
      const r = await runCli(['status', '--json', '--registry', cluster.registryAddr])
      expect(r.code).toBe(0)
      status = JSON.parse(r.stdout)
      const states = status.services.map((s: any) => `${s.name}:${s.status}`).sort()
      if (states.join() === 'demo:up,log:up') break
      if (Date.now() > deadline) throw new Error(`status never showed both up: ${states.join()}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(status.registry.peerId).toBe(regId)
  })

  it('a provider stopped with Ctrl-C leaves: dependents see it go (reason left) and it exits 0', async () => {
    await cluster.registry()
    const log = await cluster.service('log')
    const demo = await cluster.service('demo', ['log'])
    const logId = (await log.waitFor(e => e.event === 'listening', 'listening')).peerId
    await demo.waitFor(e => e.event === 'provider-up' && e.peerId === logId, 'demo knows log')
    const exit = await log.stop()
    expect(exit.code).toBe(0)
    expect(log.events.map(e => e.event).slice(-2)).toEqual(['stopping', 'stopped'])
    const down = await demo.waitFor(e => e.event === 'provider-down' && e.peerId === logId, 'provider-down')
    expect(down.reason).toBe('left')
  })
})
