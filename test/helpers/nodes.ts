import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConfig, TEST_TIMINGS, type GdsConfig } from '../../src/node/config.js'
import type { TimedEvent } from '../../src/node/events.js'
import type { HubFactory } from '../../src/node/hub.js'
import { GdsNode } from '../../src/node/node.js'
import type { ServiceDefinition } from '../../src/node/service.js'
import { plainService } from '../../src/services/service/index.js'
import { registryHub } from '../../src/services/registry/index.js'
import { pickAddr } from '../../src/cli/format.js'

/**
 * In-process nodes on 127.0.0.1 port 0 with the test timings; every node records its events so
 * a test can wait for one with a deadline (never a fixed sleep).
 */
export class TestCluster {
  readonly nodes: GdsNode[] = []
  readonly events = new Map<GdsNode, TimedEvent[]>()
  private readonly dirs: string[] = []

  async registry (overrides: Partial<GdsConfig> = {}): Promise<GdsNode> {
    return this.start({ role: 'registry', listen: ['/ip4/127.0.0.1/tcp/0'], ...overrides }, [], registryHub())
  }

  async service (registry: GdsNode, name: string, requires: string[] = [], overrides: Partial<GdsConfig> = {}, services?: ServiceDefinition[]): Promise<GdsNode> {
    return this.start({ role: 'service', name, requires, registry: pickAddr(registry.addrs), listen: ['/ip4/127.0.0.1/tcp/0'], ...overrides },
      services ?? [plainService(name, requires)])
  }

  async start (input: Partial<GdsConfig> & { role: string }, services: ServiceDefinition[], hub?: HubFactory): Promise<GdsNode> {
    const dataDir = input.dataDir ?? await this.tempDir()
    const config = createConfig({ ...TEST_TIMINGS, ...input, dataDir })
    const node = new GdsNode({ config, services, hub })
    const seen: TimedEvent[] = []
    this.events.set(node, seen)
    node.on('event', e => { seen.push(e) })
    await node.start()
    this.nodes.push(node)
    return node
  }

  async tempDir (): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'gds-test-'))
    this.dirs.push(d)
    return d
  }

  /** Resolves with the first event (already seen or yet to come) that matches, or fails at the deadline. */
  async waitFor (node: GdsNode, match: (e: TimedEvent) => boolean, timeoutMs = 10_000, label = 'event'): Promise<TimedEvent> {
    const seen = this.events.get(node) ?? []
    const found = seen.find(match)
    if (found !== undefined) return found
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        node.off('event', listener)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}; saw: ${seen.map(e => e.event).join(', ')}`))
      }, timeoutMs)
      const listener = (e: TimedEvent): void => {
        if (!match(e)) return
        clearTimeout(timer)
        node.off('event', listener)
        resolve(e)
      }
      node.on('event', listener)
    })
  }

  /** Forget recorded events (so the next waitFor sees only new ones). */
  clearEvents (node: GdsNode): void {
    this.events.get(node)?.splice(0)
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.map(async n => n.stop().catch(() => {})))
    this.nodes.length = 0
    await Promise.all(this.dirs.map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })))
  }
}

/** Retries an assertion until it passes or the deadline passes (serf's retry.Run). */
export async function eventually<T> (fn: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, intervalMs))
    }
  }
}
