import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/node/client.js'
import { DEFAULT_ADMISSION } from '../../src/node/config.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from '../helpers/nodes.js'

/** Idle sockets from another loopback address (its own "host"), each re-opened when dropped. */
class IdleFlood {
  /** Open sockets and when each was opened. */
  readonly sockets = new Map<Socket, number>()
  opened = 0
  private stopped = false

  constructor (private readonly port: number, private readonly from: string, private readonly maxOpens: number) {}

  start (count: number): void {
    for (let i = 0; i < count; i++) this.open()
  }

  private open (): void {
    if (this.stopped || this.opened >= this.maxOpens) return
    this.opened++
    const s = connect({ port: this.port, host: '127.0.0.1', localAddress: this.from })
    this.sockets.set(s, Date.now())
    s.on('error', () => {})
    s.on('close', () => {
      this.sockets.delete(s)
      // Re-opened as dropped (bounded by maxOpens), a little later so the loop does not spin.
      setTimeout(() => { this.open() }, 20)
    })
  }

  /** Sockets the registry has held open for over two seconds: pending upgrades, not refusals. */
  held (now = Date.now()): number {
    return [...this.sockets.values()].filter(at => now - at > 2_000).length
  }

  stop (): void {
    this.stopped = true
    for (const s of this.sockets.keys()) s.destroy()
  }
}

describe('connection admission (in-process registry, raw sockets from 127.0.0.2)', () => {
  const cluster = new TestCluster()
  let flood: IdleFlood | undefined
  afterEach(async () => {
    flood?.stop()
    await cluster.stopAll()
  })

  it('260 idle sockets from one host hold at most its share of pending upgrades; a client from another host still registers and lists', async () => {
    const registry = await cluster.registry()
    const port = Number(/\/tcp\/(\d+)/.exec(pickAddr(registry.addrs))![1])
    flood = new IdleFlood(port, '127.0.0.2', 3_000)
    flood.start(260)
    // The flooding host holds its share of pending upgrades (without admission: all 256); the
    // rest are refused at once and keep coming back.
    await eventually(() => { expect(flood!.held()).toBeGreaterThanOrEqual(DEFAULT_ADMISSION.maxPendingPerHost / 2) }, 20_000, 50)
    expect(flood.held()).toBeLessThanOrEqual(DEFAULT_ADMISSION.maxPendingPerHost + 16)
    expect(flood.opened).toBeGreaterThan(260)

    const demo = await cluster.service(registry, 'demo')
    await cluster.waitFor(demo, e => e.event === 'registered', 20_000, 'registered')
    const client = await RegistryClient.connect({ registry: pickAddr(registry.addrs), timeoutMs: 10_000 })
    try {
      expect((await client.list()).services.map(s => s.name)).toEqual(['demo'])
    } finally {
      await client.close()
    }
    // The flood was still on while the client got in.
    expect(flood.sockets.size).toBeGreaterThan(0)
  }, 60_000)
})
