import { on } from 'node:events'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Supervisor, type ClusterEvent } from '../../src/cluster/supervisor.js'
import { isAlive } from '../../src/node/pid.js'
import { CliProcess, FAST, runCli } from '../helpers/cli.js'

/** Deadlines for a member's (re)start on a loaded 2-core machine: generous, never asserted as speed. */
const START_MS = 45_000

async function holdPort (host = '127.0.0.1'): Promise<Server & { port: number }> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, host, resolve))
  return Object.assign(srv, { port: (srv.address() as { port: number }).port })
}

async function freePort (): Promise<number> {
  const srv = await holdPort()
  await new Promise(resolve => srv.close(resolve))
  return srv.port
}

async function eventually<T> (probe: () => Promise<T | undefined>, label: string, timeoutMs = START_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

describe('gds cluster up as a supervisor (real processes)', () => {
  const dirs: string[] = []
  const procs: CliProcess[] = []
  const servers: Server[] = []
  /** Every member pid a supervisor reported: killed at the end whatever happened, so no test leaves orphans. */
  const memberPids = new Set<number>()

  afterEach(async () => {
    await Promise.all(procs.map(async p => p.stop(15_000)))
    for (const pid of memberPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
    for (const s of servers) s.close()
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })))
    procs.length = servers.length = dirs.length = 0
    memberPids.clear()
  })

  async function dir (): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'gds-sup-'))
    dirs.push(d)
    return d
  }

  function up (args: string[]): CliProcess {
    const p = new CliProcess(['cluster', 'up', '--json', ...args])
    procs.push(p)
    // The tests add pids as they see them too; this catches those of a run that fails early.
    void p.exited.then(() => { for (const pid of pidsOf(p)) memberPids.add(pid) })
    return p
  }

  const pidsOf = (p: CliProcess): number[] => p.events.filter(e => e.event === 'member-listening').map(e => e.pid as number)

  async function clusterStatus (d: string): Promise<any> {
    const r = await runCli(['cluster', 'status', '-d', d, '--json'])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }

  it('restarts a member killed with -9 (same database) and the registry (same address); status and down from another process; no orphans', async () => {
    const d = await dir()
    const sup = up(['--port', '0', '--http-port', String(await freePort()), '-d', d])
    const ready = await sup.waitFor(e => e.event === 'cluster-up', 'cluster-up', START_MS)
    for (const pid of pidsOf(sup)) memberPids.add(pid)
    expect(ready.failed).toEqual([])
    const r = ['--registry', ready.registry]

    const state = await clusterStatus(d)
    expect(state.pid).toBe(sup.pid)
    expect(state.members.map((m: any) => [m.name, m.state, m.restarts])).toEqual([['registry', 'running', 0], ['log', 'running', 0], ['grading', 'running', 0], ['webui', 'running', 0]])
    expect(state.members.map((m: any) => m.pid).sort()).toEqual(pidsOf(sup).sort())

    // A second cluster on the same data dir: one line naming the dir, the process and the flag.
    const twice = await runCli(['cluster', 'up', '-d', d, '--port', '0', '--http-port', String(await freePort())])
    expect(twice.code).toBe(1)
    expect(twice.stderr.trim()).toBe(`Error: a cluster is already running from data dir ${d} (process ${sup.pid}): stop it with "gds cluster down -d ${d}", or give this one another --data-dir`)

    const added = await runCli(['grades', 'add-student', 'Ada', 'Lovelace', '--json', ...r])
    expect(added.code, added.stderr).toBe(0)
    const studentId = JSON.parse(added.stdout).id

    const grading = state.members.find((m: any) => m.name === 'grading')
    let mark = sup.mark()
    process.kill(grading.pid, 'SIGKILL')
    const exited = await sup.waitFor(e => e.event === 'member-exited' && e.name === 'grading', 'grading exited', START_MS, mark)
    expect(exited).toMatchObject({ signal: 'SIGKILL', expected: false, restartInMs: 500, attempt: 1, maxRestarts: 5 })
    const back = await sup.waitFor(e => e.event === 'member-listening' && e.name === 'grading', 'grading restarted', START_MS, mark)
    memberPids.add(back.pid)
    expect(back.restarts).toBe(1)
    expect(back.peerId).toBe(grading.peerId)
    await eventually(async () => (await clusterStatus(d)).members.find((m: any) => m.name === 'grading' && m.state === 'running' && m.restarts === 1), 'grading running again')
    // Same data: the student added before the crash is there.
    const shown = await eventually(async () => { const s = await runCli(['grades', 'show', String(studentId), ...r]); return s.code === 0 ? s : undefined }, 'grades show after restart')
    expect(shown.stdout).toContain('Ada Lovelace')

    // The registry logged the crash and the return: `gds logs` is the cluster's membership history.
    await eventually(async () => {
      const logs = await runCli(['logs', '--service', 'registry', '--json', ...r])
      const seen = logs.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l)).filter(x => x.provider === 'grading' && x.peer === grading.peerId)
      const down = seen.find(x => x.status === 'down' && x.reason === 'connection-closed')
      return down !== undefined && seen.some(x => x.status === 'up' && x.ts > down.ts) ? true : undefined
    }, 'grading down then up in the registry\'s log')

    const registry = state.members.find((m: any) => m.name === 'registry')
    mark = sup.mark()
    process.kill(registry.pid, 'SIGKILL')
    const again = await sup.waitFor(e => e.event === 'member-listening' && e.name === 'registry', 'registry restarted', START_MS, mark)
    memberPids.add(again.pid)
    expect(again.addrs).toContain(ready.registry.replace(/\/p2p\/.*/, '') + `/p2p/${again.peerId}`)
    // The members find the restarted registry where they left it.
    await eventually(async () => {
      const s = await runCli(['status', '--json', ...r])
      return s.code === 0 && JSON.parse(s.stdout).services.filter((x: any) => x.status === 'up').length === 3 ? true : undefined
    }, 'three services up at the restarted registry')

    const all = [...memberPids]
    const down = await runCli(['cluster', 'down', '-d', d])
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout).toContain('cluster stopped: registry, log, grading, webui')
    expect(await sup.exited).toEqual({ code: 0, signal: null })
    expect(all.filter(isAlive)).toEqual([])
    const after = await runCli(['cluster', 'status', '-d', d])
    expect(after.code).toBe(1)
    expect(after.stderr).toContain(`no cluster is running from ${d}`)
  })

  it('a port taken: one line naming the port, the process holding it and the flag; the same cause under --json; nothing left running', async () => {
    const d = await dir()
    const held = await holdPort()
    servers.push(held)
    const human = await runCli(['cluster', 'up', '-d', d, '--port', String(held.port), '--http-port', String(await freePort())])
    expect(human.code).toBe(1)
    expect(human.stderr.trim().split('\n')).toHaveLength(1)
    expect(human.stderr).toMatch(new RegExp(`^Error: port ${held.port} \\(registry\\) is in use by process ${process.pid} \\(node .*\\): change --port, or stop that process`))

    const json = await runCli(['cluster', 'up', '--json', '-d', d, '--port', '0', '--http-port', String(held.port)])
    expect(json.code).toBe(1)
    const { error } = JSON.parse(json.stdout)
    expect(error).toMatchObject({ code: 'CLUSTER_START_FAILED', data: { port: held.port, pid: process.pid, flag: '--http-port', member: 'webui' } })
    expect(error.message).toContain('change --http-port')
  })

  it('a member that fails to start fails cluster up with that member\'s reason, after stopping the others', async () => {
    const d = await dir()
    // The grading database's path is taken by a folder: grading cannot open it.
    await mkdir(join(d, 'grading.db'))
    const sup = up(['--port', '0', '--http-port', String(await freePort()), '-d', d])
    const { code } = await sup.exited
    for (const pid of pidsOf(sup)) memberPids.add(pid)
    expect(code).toBe(1)
    expect(sup.events.at(-1)).toEqual({ error: expect.objectContaining({ code: 'CLUSTER_START_FAILED', message: 'grading failed to start: unable to open database file', data: { member: 'grading' } }) })
    expect(sup.events.find(e => e.event === 'member-exited' && e.name === 'grading')).toMatchObject({ expected: false, lastError: 'unable to open database file' })
    expect(sup.events.some(e => e.event === 'cluster-up')).toBe(false)
    expect(pidsOf(sup).length).toBeGreaterThan(1)
    expect(pidsOf(sup).filter(isAlive)).toEqual([])
  })

  it('--keep-going: a member that cannot start is reported with its reason and retried until it can; SIGTERM stops every member', async () => {
    const d = await dir()
    const held = await holdPort('0.0.0.0')
    servers.push(held)
    const sup = up(['--port', '0', '--http-port', String(held.port), '-d', d, '--keep-going'])
    const failed = await sup.waitFor(e => e.event === 'member-exited' && e.name === 'webui', 'webui fails', START_MS)
    expect(failed.lastError).toMatch(new RegExp(`cannot listen on .*${held.port}.*in use`))
    expect(failed.restartInMs).toBeGreaterThan(0)
    const ready = await sup.waitFor(e => e.event === 'cluster-up', 'cluster-up', START_MS)
    expect(ready.failed).toContain('webui')

    await new Promise(resolve => held.close(resolve))
    const webui = await eventually(async () => (await clusterStatus(d)).members.find((m: any) => m.name === 'webui' && m.state === 'running'), 'webui running once the port is free')
    expect(webui.restarts).toBeGreaterThan(0)
    // Running is started, not yet registered: until its registration answer names grading, the
    // portal says grading is unavailable (503), as it should.
    const page = await eventually(async () => { const r = await fetch(`http://127.0.0.1:${held.port}/`); return r.status === 200 ? r : undefined }, 'the portal served')
    expect(page.status).toBe(200)

    const all = pidsOf(sup)
    for (const pid of all) memberPids.add(pid)
    sup.signal('SIGTERM')
    expect(await sup.exited).toEqual({ code: 0, signal: null })
    expect(all.filter(isAlive)).toEqual([])
  })

  it('a supervisor killed with -9 leaves no orphans: every member stops on its own', async () => {
    const d = await dir()
    const sup = up(['--port', '0', '--http-port', String(await freePort()), '-d', d])
    await sup.waitFor(e => e.event === 'cluster-up', 'cluster-up', START_MS)
    const all = pidsOf(sup)
    for (const pid of all) memberPids.add(pid)
    expect(all.length).toBeGreaterThanOrEqual(4)
    sup.signal('SIGKILL')
    await sup.exited
    await eventually(async () => all.every(pid => !isAlive(pid)) ? true : undefined, 'every member gone after the supervisor', 30_000)
  })

  it('gives up on a member after maxRestarts within the window, and says how to start it by hand on the same data', async () => {
    const d = await dir()
    const sup = new Supervisor({
      dataDir: d, host: '127.0.0.1', registryPort: 0, members: [{ role: 'service', name: 'demo' }], commonArgs: FAST,
      restart: { minDelayMs: 50, maxDelayMs: 100, maxRestarts: 1, windowMs: 600_000 }
    })
    const events: ClusterEvent[] = []
    // Listens from the call on (node's `on` buffers), so a wait set up before a kill misses nothing.
    const next = async (match: (e: ClusterEvent) => boolean, label: string): Promise<any> => {
      try {
        for await (const [e] of on(sup, 'event', { signal: AbortSignal.timeout(START_MS) })) if (match(e)) return e
      } catch (err) {
        throw new Error(`no ${label}; saw ${events.map(e => e.event).join(',')}`, { cause: err })
      }
    }
    sup.on('event', e => {
      events.push(e)
      if (e.event === 'member-listening') memberPids.add(e.pid)
    })
    try {
      await sup.start()
      const first = events.find(e => e.event === 'member-listening' && e.name === 'demo') as any
      const restarted = next(e => e.event === 'member-listening' && e.name === 'demo', 'demo restarted')
      process.kill(first.pid, 'SIGKILL')
      const second = await restarted
      expect(second.restarts).toBe(1)
      const gaveUp = next(e => e.event === 'member-gave-up', 'gave up')
      process.kill(second.pid, 'SIGKILL')
      const g = await gaveUp
      expect(g).toMatchObject({ name: 'demo', restarts: 1 })
      expect(g.command).toMatch(new RegExp(`^gds node start --role service --data-dir ${d}/demo --listen /ip4/127.0.0.1/tcp/0 --registry /ip4/127.0.0.1/tcp/\\d+/p2p/\\w+ --name demo`))
      expect(sup.snapshot().members.find(m => m.name === 'demo')).toMatchObject({ state: 'failed', restarts: 1 })
    } finally {
      await sup.stop()
    }
  })
})
