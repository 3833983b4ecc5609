import { afterEach, describe, expect, it } from 'vitest'
import { createConfig, TEST_TIMINGS } from '../../src/node/config.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import { GdsNode } from '../../src/node/node.js'
import { plainService } from '../../src/services/service/index.js'
import { ProcessCluster, runCli, type NodeProcess } from '../helpers/cli.js'
import { eventually } from '../helpers/nodes.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** `gds logs --follow` against a log node that is killed with -9 and restarted (real processes). */
describe('cluster: gds logs --follow through a log service restart', () => {
  const cluster = new ProcessCluster()
  let writer: GdsNode | undefined
  let writerDir: string | undefined
  afterEach(async () => {
    await writer?.stop()
    writer = undefined
    await cluster.stopAll()
    if (writerDir !== undefined) await rm(writerDir, { recursive: true, force: true })
  })

  async function startLog (dataDir: string): Promise<NodeProcess> {
    const p = cluster.start(['--role', 'log', '--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir, '--heartbeat-interval', '200', '--heartbeat-timeout', '150'])
    await p.waitFor(e => e.event === 'registered', 'log registered', 30_000)
    return p
  }

  async function startWriter (): Promise<GdsNode> {
    writerDir = await mkdtemp(join(tmpdir(), 'gds-writer-'))
    writer = new GdsNode({ config: createConfig({ ...TEST_TIMINGS, role: 'service', name: 'writer', requires: ['log'], registry: cluster.registryAddr, listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: writerDir }), services: [plainService('writer', ['log'])] })
    await writer.start()
    return writer
  }

  it('says the stream was lost, reconnects, says it is back, and shows every entry once', async () => {
    await cluster.registry()
    const logDir = await cluster.dir()
    let log = await startLog(logDir)
    // The writer: an in-process node registered as "writer", appending numbered entries.
    const w = await startWriter()
    const write = async (seq: number): Promise<void> => {
      const entry: LogEntry = { ts: Date.now(), level: 'info', service: 'writer', peerId: w.peerId, msg: `n${seq}`, inc: 1, seq }
      // Until the log service takes it (it is down for a while): bounded by the test's deadline.
      await eventually(async () => { await w.call('log', 'append', { entries: [entry] }, { idempotent: true, timeoutMs: 2_000 }) }, 45_000)
    }
    await write(1)
    const json = cluster.follow(['logs', '--follow', '--json', '--service', 'writer', '--registry', cluster.registryAddr])
    const human = cluster.follow(['logs', '--follow', '--service', 'writer', '--registry', cluster.registryAddr])
    await json.waitFor(e => e.msg === 'n1', 'n1 in the json follower', 30_000)
    await write(2)
    await json.waitFor(e => e.msg === 'n2', 'n2 live', 30_000)
    // Both followers are past their first query, so each sees exactly one loss.
    await eventually(() => { expect(human.stderr).toMatch(/\[stdout\] .* n2/) }, 30_000)

    log.signal('SIGKILL')
    await log.exited
    const lost = await json.waitFor(e => e.event === 'follow-lost', 'follow-lost', 30_000)
    expect(typeof lost.error).toBe('string')
    // A follower started while no log service is up waits for one.
    const late = cluster.follow(['logs', '--follow', '--json', '--service', 'writer', '--registry', cluster.registryAddr])
    await late.waitFor(e => e.event === 'follow-lost', 'the late follower waits', 30_000)
    // Written while the log node is down: the writer retries until it is back.
    const pending = (async () => { await write(3); await write(4) })()
    log = await startLog(logDir)
    await pending
    await json.waitFor(e => e.event === 'follow-resumed', 'follow-resumed', 45_000)
    await write(5)
    await json.waitFor(e => e.msg === 'n5', 'n5 after the restart', 45_000)

    const msgs = json.events.filter(e => typeof e.msg === 'string').map(e => e.msg)
    expect(msgs).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])
    expect(json.events.filter(e => e.event === 'follow-lost')).toHaveLength(1)
    await late.waitFor(e => e.msg === 'n5', 'n5 in the late follower', 45_000)
    // Told it is back before the entries it shows from then on.
    expect(late.events.map(e => e.event ?? e.msg)).toEqual(['follow-lost', 'follow-resumed', 'n1', 'n2', 'n3', 'n4', 'n5'])
    expect(json.running).toBe(true)
    // The human follower: one line on stderr each way, the entries on stdout, no raw transport error.
    await eventually(() => { expect(human.stderr).toContain('log stream back after') }, 45_000)
    expect(human.stderr.match(/log stream lost/g)).toHaveLength(1)
    expect(human.stderr).not.toMatch(/Error:/)
    expect(human.running).toBe(true)
    expect(await json.stop()).toMatchObject({ code: 0 })
  }, 180_000)

  it('gds logs -n 5000 prints all 5000 (more than one frame)', async () => {
    await cluster.registry()
    await startLog(await cluster.dir())
    const w = await startWriter()
    await eventually(() => { expect(w.catalog.providersOf('log').some(p => p.status === 'up')).toBe(true) }, 30_000)
    for (let b = 0; b < 6; b++) {
      const entries = Array.from({ length: 1_000 }, (_, i) => ({ ts: Date.now(), level: 'info', service: 'writer', peerId: w.peerId, msg: `n${b * 1_000 + i + 1} ${'z'.repeat(300)}`, inc: 1, seq: b * 1_000 + i + 1 }))
      // Paced to the log's per-peer rate: retried (idempotent) until it is taken.
      await eventually(async () => { await w.call('log', 'append', { entries }, { idempotent: true }) }, 60_000)
    }
    const out = await runCli(['logs', '-n', '5000', '--json', '--service', 'writer', '--registry', cluster.registryAddr], 60_000)
    expect(out.stderr).toBe('')
    expect(out.code).toBe(0)
    const lines = out.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l))
    expect(lines).toHaveLength(5_000)
    expect(lines[0].seq).toBe(1_001)
    expect(lines.at(-1).seq).toBe(6_000)
  }, 180_000)
})
