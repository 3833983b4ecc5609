import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, type Event } from '../helpers/cli.js'

/** Real processes through bin/run.js: registry + log, store (requires log), web (requires store, log). */
describe('cluster: crashes and hangs (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  const about = (type: string, name: string, peerId?: string) => (e: Event) =>
    e.event === type && e.name === name && (peerId === undefined || e.peerId === peerId)

  async function setup () {
    await cluster.registry()
    const registry = cluster.procs[0]
    const logDir = await cluster.dir()
    const log = await cluster.service('log', [], logDir)
    const store = await cluster.service('store', ['log'])
    const web = await cluster.service('web', ['store', 'log'])
    const logId = (await log.waitFor(e => e.event === 'listening', 'log listening')).peerId
    await store.waitFor(about('provider-up', 'log', logId), 'store knows log')
    await web.waitFor(about('provider-up', 'log', logId), 'web knows log')
    return { registry, log, logDir, logId, store, web }
  }

  it('kill -9 of a provider: every dependent is told it is down; restarted, it comes back with the same peer id', async () => {
    const { registry, log, logDir, logId, store, web } = await setup()
    const [s0, w0] = [store.mark(), web.mark()]
    log.signal('SIGKILL')
    for (const dep of [store, web]) {
      const down = await dep.waitFor(about('provider-down', 'log', logId), 'provider-down for log', 15_000, dep === store ? s0 : w0)
      expect(down.reason).toBe('connection-closed')
    }
    await registry.waitFor(about('provider-down', 'log', logId), 'registry marks log down')

    const [s1, w1] = [store.mark(), web.mark()]
    const again = await cluster.service('log', [], logDir)
    expect((await again.waitFor(e => e.event === 'listening', 'listening')).peerId).toBe(logId)
    await store.waitFor(about('provider-up', 'log', logId), 'store: log back up', 15_000, s1)
    await web.waitFor(about('provider-up', 'log', logId), 'web: log back up', 15_000, w1)
  })

  it('a hung provider (SIGSTOP) is declared down by heartbeats; SIGCONT brings it back', async () => {
    const { log, logId, store } = await setup()
    const m = store.mark()
    log.signal('SIGSTOP')
    try {
      const down = await store.waitFor(about('provider-down', 'log', logId), 'provider-down after SIGSTOP', 15_000, m)
      expect(down.reason).toBe('heartbeat-timeout')
    } finally {
      log.signal('SIGCONT')
    }
    await store.waitFor(about('provider-up', 'log', logId), 'provider-up after SIGCONT', 15_000, m)
  })

  it('a dependent that was hung while its provider died learns of it once it is back', async () => {
    const { log, logId, store } = await setup()
    const m = store.mark()
    store.signal('SIGSTOP')
    try {
      log.signal('SIGKILL')
      await log.exited
      // The registry declares the frozen dependent down too, then up again after SIGCONT.
      await cluster.procs[0].waitFor(e => e.event === 'provider-down' && e.name === 'store', 'registry sees store down')
    } finally {
      store.signal('SIGCONT')
    }
    await store.waitFor(about('provider-down', 'log', logId), 'store told log is down', 15_000, m)
  })
})
