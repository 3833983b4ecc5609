import { createServer } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { canListen, commandText, listeningInodes, portHolder } from '../../src/cluster/port-holder.js'
import { RestartBudget } from '../../src/cluster/restart-budget.js'
import { readClusterState, writeClusterState } from '../../src/cluster/state.js'

const POLICY = { minDelayMs: 500, maxDelayMs: 8_000, maxRestarts: 5, windowMs: 60_000 }

describe('RestartBudget', () => {
  it('doubles the delay from min to max, then gives up after maxRestarts within the window', () => {
    const b = new RestartBudget(POLICY)
    const plans = [0, 1, 2, 3, 4].map(i => b.next(1_000 + i))
    expect(plans).toEqual([1, 2, 3, 4, 5].map(attempt => ({ attempt, delayMs: Math.min(8_000, 500 * 2 ** (attempt - 1)) })))
    expect(b.next(1_010)).toBeUndefined()
    expect(b.next(1_020)).toBeUndefined()
  })

  it('forgets restarts older than the window: a member that ran long starts again from the shortest delay', () => {
    const b = new RestartBudget({ ...POLICY, maxRestarts: 2 })
    expect(b.next(0)).toEqual({ attempt: 1, delayMs: 500 })
    expect(b.next(10)).toEqual({ attempt: 2, delayMs: 1_000 })
    expect(b.next(20)).toBeUndefined()
    expect(b.next(60_010)).toEqual({ attempt: 1, delayMs: 500 })
  })

  it('caps the delay at maxDelayMs', () => {
    const b = new RestartBudget({ ...POLICY, maxRestarts: 20, windowMs: 1e9 })
    const delays = Array.from({ length: 12 }, (_, i) => b.next(i)?.delayMs)
    expect(Math.max(...delays.map(Number))).toBe(8_000)
  })
})

describe('port holder', () => {
  const TABLE = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:0FA1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:0FA1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1',
    '   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5151 1 0000000000000000 100 0 0 10 0',
    'garbage line',
    ''
  ].join('\n')

  it('listeningInodes: only LISTEN sockets on that port; short or malformed lines are skipped', () => {
    expect(listeningInodes(TABLE, 4001)).toEqual(['4242'])
    expect(listeningInodes(TABLE, 8080)).toEqual(['5151'])
    expect(listeningInodes(TABLE, 1)).toEqual([])
    expect(listeningInodes('', 4001)).toEqual([])
  })

  it('commandText: program and arguments by their last path part, at most 60 characters', () => {
    expect(commandText(['/usr/bin/node', '/work/gds/bin/run.js', 'node', 'start'])).toBe('node run.js node start')
    expect(commandText(['/usr/sbin/nginx', '-g', 'daemon off;'])).toBe('nginx -g daemon off;')
    expect(commandText(['x', 'y'.repeat(100)])).toHaveLength(60)
    expect(commandText([])).toBe('?')
  })

  it('canListen and portHolder name this process for a port it listens on', async () => {
    const srv = createServer()
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as { port: number }).port
    try {
      expect(await canListen('127.0.0.1', port)).toBe(false)
      const holder = await portHolder(port)
      expect(holder?.pid).toBe(process.pid)
    } finally {
      await new Promise(resolve => srv.close(resolve))
    }
    expect(await canListen('127.0.0.1', port)).toBe(true)
  })
})

describe('cluster state file', () => {
  let dir = ''
  afterEach(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('reads back what was written while its supervisor lives', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-state-'))
    const state = { pid: process.pid, dataDir: dir, startedAt: 1, members: [{ name: 'log', role: 'log', pid: process.pid, state: 'running' as const, restarts: 1, since: 2 }] }
    await writeClusterState(state)
    expect(await readClusterState(dir)).toEqual(state)
  })

  it('no file, a dead supervisor, malformed or oversized content: a clear error each', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-state-'))
    await expect(readClusterState(dir)).rejects.toMatchObject({ name: 'ClusterNotRunningError', message: expect.stringContaining('start one with "gds cluster up"') })
    // A pid far above pid_max: no such process.
    await writeClusterState({ pid: 2 ** 30, dataDir: dir, startedAt: 1, members: [] })
    await expect(readClusterState(dir)).rejects.toMatchObject({ name: 'ClusterNotRunningError', message: expect.stringContaining(`its supervisor (process ${2 ** 30}) is gone`) })
    await writeFile(join(dir, 'cluster.json'), '{not json')
    await expect(readClusterState(dir)).rejects.toMatchObject({ name: 'KeyFileError', message: expect.stringContaining('delete it if no cluster runs from') })
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ pid: 'x', members: [] }))
    await expect(readClusterState(dir)).rejects.toMatchObject({ name: 'KeyFileError', message: expect.stringContaining('is not a cluster state file') })
    const many = Array.from({ length: 1000 }, () => ({ name: 'x', role: 'x', state: 'running', restarts: 0, since: 0 }))
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ pid: process.pid, dataDir: dir, startedAt: 1, members: many }))
    await expect(readClusterState(dir)).rejects.toMatchObject({ name: 'KeyFileError' })
  })
})
