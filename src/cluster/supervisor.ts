import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CLUSTER_RESTART, SUPERVISED_ENV, clusterEtcdPorts } from '../node/config.js'
import { ClusterStartError, EtcdMissingError } from '../node/errors.js'
import type { TimedEvent } from '../node/events.js'
import { lockDataDir } from '../node/identity.js'
import { lockHolder } from '../node/pid.js'
import { findEtcd, spawnLocalEtcd, type EtcdPorts } from './etcd.js'
import { canListen, portHolder } from './port-holder.js'
import { RestartBudget, type RestartPolicy } from './restart-budget.js'
import { removeClusterState, writeClusterState, type ClusterState, type MemberStateName } from './state.js'

/** One process of a local cluster: a role, the name it registers under, what it requires. */
export interface MemberSpec {
  role: string
  name: string
  requires?: string[]
  /** Extra `node start` flags (e.g. --http-port for webui). */
  args?: string[]
  /** The fixed ports it listens on, checked before anything starts, and the flag that changes each. */
  ports?: Array<{ host: string, port: number, flag: string }>
}

export interface SupervisorOptions {
  dataDir: string
  host: string
  /** The first registry's port (0: any); the others take the next ones. */
  registryPort: number
  /**
   * Registries sharing one catalogue in a local etcd (started from PATH in dataDir/etcd,
   * followed like a member). 1: one registry, its catalogue in its data dir. @default 1
   */
  registries?: number
  /** The local etcd's client port (its peer port is the next). @default clusterEtcdPorts(dataDir) */
  etcdPort?: number
  members: MemberSpec[]
  /** Extra flags for every member (timings, --swarm-key). */
  commonArgs?: string[]
  /** How long a member may take to stop gracefully before it is killed. */
  stopTimeoutMs?: number
  /** When a dead member is restarted, and when it is given up on. @default CLUSTER_RESTART */
  restart?: RestartPolicy
  /** A member other than the registry that fails to start is reported and retried, not fatal. */
  keepGoing?: boolean
  /** The web UI's URL, for the state file. */
  web?: string
  now?: () => number
}

export type ClusterEvent =
  /** `peerId` is absent for etcd, whose `addrs` are its client endpoint as --store takes it. */
  | { event: 'member-listening', name: string, role: string, peerId?: string, addrs: string[], pid: number, restarts: number }
  | {
    event: 'member-exited', name: string, code: number | null, signal: string | null, expected: boolean, lastError?: string
    /** Set when it will be restarted: in how long, which restart of the window's maxRestarts. */
    restartInMs?: number, attempt?: number, maxRestarts?: number
  }
  | { event: 'member-gave-up', name: string, restarts: number, windowMs: number, command: string }
  | { event: 'member-event', name: string, detail: TimedEvent }

const BIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'run.js')
/** Long enough for a clean libp2p start on a busy 2-core machine. */
const START_TIMEOUT_MS = 30_000

class Member {
  child?: ChildProcess
  /** The `node start` flags it was launched with (kept for restarts and the by-hand hint); etcd's whole command. */
  argv: string[] = []
  peerId?: string
  /** A registry's address (pinned by /p2p/), as the other members are given it. */
  addr?: string
  lastError?: string
  stopping = false
  /** Restarted when it dies: once it has been ready (or from the start under keepGoing). */
  supervised = false
  restarts = 0
  state: MemberStateName = 'starting'
  since = 0
  restartTimer?: NodeJS.Timeout
  exited?: Promise<void>

  constructor (readonly spec: MemberSpec, readonly budget: RestartBudget) {}
}

/**
 * Runs the roles of a cluster as separate `gds node start --json` processes on this machine,
 * reading their event lines, restarting the ones that die (bounded back-off) and keeping
 * <data dir>/cluster.json current for `gds cluster status|down`: what `gds cluster up` is.
 */
export class Supervisor extends EventEmitter<{ event: [ClusterEvent] }> {
  private readonly members: Member[]
  private readonly policy: RestartPolicy
  private readonly now: () => number
  private readonly etcdPorts: EtcdPorts
  private stopping?: Promise<void>
  private unlock?: () => Promise<void>
  private writing = Promise.resolve()
  private readonly startedAt: number
  /** A supervisor that exits by any path takes its members with it: no orphans. */
  private readonly killAll = (): void => { for (const m of this.members) m.child?.kill('SIGKILL') }

  constructor (private readonly opts: SupervisorOptions) {
    super()
    this.policy = opts.restart ?? CLUSTER_RESTART
    this.now = opts.now ?? Date.now
    this.startedAt = this.now()
    this.etcdPorts = clusterEtcdPorts(opts.dataDir, opts.etcdPort)
    this.members = [...this.storeSpecs(), ...opts.members].map(spec => new Member(spec, new RestartBudget(this.policy)))
  }

  /** Every registry's address, comma-separated (what --registry and GDS_REGISTRY take), once all listen. */
  get registry (): string | undefined {
    const addrs = this.role('registry').map(m => m.addr)
    return addrs.every(a => a !== undefined) ? addrs.join(',') : undefined
  }
  get stopped (): boolean { return this.stopping !== undefined }

  /** The members that are not running (failed to start under keepGoing, or given up on). */
  get failed (): string[] { return this.members.filter(m => m.state !== 'running').map(m => m.spec.name) }

  /**
   * Checks the data dir and ports, starts the registry, then every other member; rejects (after
   * stopping what started) if one fails, with a message that names the cause and the flag to change.
   */
  async start (): Promise<void> {
    await this.preflight()
    this.unlock = await lockDataDir(this.opts.dataDir)
    process.on('exit', this.killAll)
    try {
      for (const etcd of this.role('etcd')) await this.launch(etcd)
      await Promise.all(this.role('registry').map(async r => {
        await this.launch(r, ['--listen', `/ip4/${this.opts.host}/tcp/${r.spec.ports?.[0].port ?? 0}`])
        const addr = r.addr
        if (addr === undefined) throw new ClusterStartError(`${r.spec.name} failed to start: it announced no address`)
        // A restarted registry must come back where its members look for it.
        r.argv = r.argv.map(a => a === `/ip4/${this.opts.host}/tcp/0` ? `/ip4/${this.opts.host}/tcp/${/\/tcp\/(\d+)/.exec(addr)?.[1]}` : a)
      }))
      const addr = this.registry!
      const rest = this.services()
      await Promise.all(rest.map(async m => {
        m.supervised = this.opts.keepGoing === true
        await this.launch(m, ['--listen', `/ip4/${this.opts.host}/tcp/0`, '--registry', addr]).catch((err: unknown) => {
          if (!m.supervised) throw err
        })
      }))
      // `cluster status` run the moment this returns reads every member's state.
      await this.writing
    } catch (err) {
      const stoppedByUser = this.stopping !== undefined
      await this.stop()
      if (!stoppedByUser) throw err
    }
  }

  /** Stops the services first, then the registries, etcd last, each gracefully (SIGINT), then by force. Idempotent. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      // A terminal's Ctrl-C reaches the members too: their exits from now on are expected.
      for (const m of this.members) {
        m.stopping = true
        clearTimeout(m.restartTimer)
      }
      for (const group of [this.services(), this.role('registry'), this.role('etcd')]) await Promise.all(group.map(async m => this.stopMember(m)))
      await this.writing
      if (this.unlock !== undefined) {
        await removeClusterState(this.opts.dataDir)
        await this.unlock()
      }
      process.off('exit', this.killAll)
    })()
    return this.stopping
  }

  /** What cluster.json says: who supervises, and each member's pid, state and restarts. */
  snapshot (): ClusterState {
    return {
      pid: process.pid,
      dataDir: this.opts.dataDir,
      startedAt: this.startedAt,
      ...(this.registry === undefined ? {} : { registry: this.registry }),
      ...(this.opts.web === undefined ? {} : { web: this.opts.web }),
      members: this.members.map(m => ({
        name: m.spec.name,
        role: m.spec.role,
        ...(m.child?.pid === undefined ? {} : { pid: m.child.pid }),
        state: m.state,
        restarts: m.restarts,
        since: m.since,
        ...(m.peerId === undefined ? {} : { peerId: m.peerId })
      }))
    }
  }

  /**
   * The registries and, for more than one, the etcd they share: the first is named `registry`
   * as in a one-registry cluster (same data dir, same peer id), the others registry-2, -3...
   */
  private storeSpecs (): MemberSpec[] {
    const { host, registryPort } = this.opts
    const n = this.opts.registries ?? 1
    const shared = n > 1
    const etcd: MemberSpec[] = shared
      ? [{ role: 'etcd', name: 'etcd', ports: [this.etcdPorts.client, this.etcdPorts.peer].map(port => ({ host: '127.0.0.1', port, flag: '--etcd-port' })) }]
      : []
    return [...etcd, ...Array.from({ length: n }, (_, i) => ({
      role: 'registry',
      name: i === 0 ? 'registry' : `registry-${i + 1}`,
      ...(shared ? { args: ['--store', `etcd://127.0.0.1:${this.etcdPorts.client}`] } : {}),
      ...(registryPort === 0 ? {} : { ports: [{ host, port: registryPort + i, flag: '--port' }] })
    }))]
  }

  private role (role: 'registry' | 'etcd'): Member[] {
    return this.members.filter(m => m.spec.role === role)
  }

  /** The members that are neither a registry nor etcd: they start after them and stop before them. */
  private services (): Member[] {
    return this.members.filter(m => m.spec.role !== 'registry' && m.spec.role !== 'etcd')
  }

  /** Refuses to start over a running cluster, a member dir in use, a port taken, or without etcd when it needs one: one line each. */
  private async preflight (): Promise<void> {
    const { dataDir } = this.opts
    if (this.role('etcd').length > 0 && findEtcd() === undefined) throw new EtcdMissingError('or run one registry (no --registries), which needs no etcd')
    const supervisor = await lockHolder(dataDir)
    if (supervisor !== undefined) {
      throw new ClusterStartError(`a cluster is already running from data dir ${dataDir} (process ${supervisor}): stop it with "gds cluster down -d ${dataDir}", or give this one another --data-dir`,
        { dataDir, pid: supervisor, flag: '--data-dir' })
    }
    for (const m of this.members) {
      const dir = join(dataDir, m.spec.name)
      const pid = await lockHolder(dir)
      if (pid !== undefined) {
        throw new ClusterStartError(`data dir ${dir} is in use by process ${pid}, which is not this cluster's: stop it, or give the cluster another --data-dir`,
          { dataDir: dir, pid, flag: '--data-dir' })
      }
      // Under keepGoing a member's own failure is reported and retried instead (the registries' and etcd's never is).
      const ports = this.opts.keepGoing === true && m.spec.role !== 'registry' && m.spec.role !== 'etcd' ? [] : m.spec.ports ?? []
      for (const p of ports) {
        if (await canListen(p.host, p.port)) continue
        const holder = await portHolder(p.port)
        const by = holder === undefined ? 'another process' : `process ${holder.pid} (${holder.command})`
        throw new ClusterStartError(`port ${p.port} (${m.spec.name}) is in use by ${by}: change ${p.flag}, or stop that process`,
          { port: p.port, member: m.spec.name, flag: p.flag, ...(holder === undefined ? {} : { pid: holder.pid }) })
      }
    }
  }

  /** Starts a member (again, with the same flags, when `args` is omitted); resolves when it is ready. */
  private async launch (m: Member, args?: string[]): Promise<void> {
    if (m.spec.role === 'etcd') return this.launchEtcd(m)
    const { role, name, requires = [] } = m.spec
    if (args !== undefined) {
      m.argv = ['node', 'start', '--role', role, '--data-dir', join(this.opts.dataDir, name), ...args,
        // Built-in roles register under their role's name; instances differ by data dir only.
        ...(role === 'service' ? ['--name', name] : []), ...(requires.length > 0 ? ['--requires', requires.join(',')] : []),
        ...(m.spec.args ?? []), ...(this.opts.commonArgs ?? [])]
    }
    // The member holds our end of its stdin: when we die, however, it stops (no orphans).
    const child = spawn(process.execPath, [BIN, ...m.argv, '--json'], { env: { ...process.env, NODE_ENV: 'production', [SUPERVISED_ENV]: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
    m.child = child
    m.lastError = undefined
    this.setState(m, 'starting')
    const ready = Promise.withResolvers<void>()
    const timer = setTimeout(() => { ready.reject(new ClusterStartError(`${name} did not start within ${START_TIMEOUT_MS} ms`, { member: name })) }, START_TIMEOUT_MS)
    createInterface({ input: child.stderr! }).on('line', line => {
      // Keep the last thing a member said on stderr: it explains a failed start.
      const text = line.startsWith('{') ? safeMsg(line) : line
      if (text !== undefined && text !== '') m.lastError = text.replace(/^Error: /, '')
    })
    createInterface({ input: child.stdout! }).on('line', line => {
      let parsed: any
      try { parsed = JSON.parse(line) } catch { return }
      if (typeof parsed?.event !== 'string') {
        // `node start --json` prints its failure as {"error": {...}} on stdout: the reason it exits.
        if (typeof parsed?.error?.message === 'string') m.lastError = parsed.error.message
        return
      }
      const e = parsed as TimedEvent
      if (e.event === 'listening') {
        m.peerId = e.peerId
        if (role === 'registry') m.addr = e.addrs.find(a => a.includes(`/ip4/${this.opts.host}/`)) ?? e.addrs[0]
        this.emit('event', { event: 'member-listening', name, role, peerId: e.peerId, addrs: e.addrs, pid: child.pid ?? 0, restarts: m.restarts })
      } else if (e.event === 'ready') {
        m.supervised = true
        this.setState(m, 'running')
        ready.resolve()
      } else {
        this.emit('event', { event: 'member-event', name, detail: e })
      }
    })
    m.exited = new Promise(resolve => {
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        ready.reject(new ClusterStartError(`${name} failed to start: ${m.lastError ?? exitText(code, signal)}`, { member: name }))
        this.onExit(m, code, signal)
        resolve()
      })
    })
    try {
      await ready.promise
    } finally {
      clearTimeout(timer)
    }
  }

  /** The local etcd, on the same ports and data every time: ready when it answers /health. */
  private async launchEtcd (m: Member): Promise<void> {
    const dir = join(this.opts.dataDir, m.spec.name)
    const etcd = spawnLocalEtcd(dir, this.etcdPorts)
    const child = etcd.process
    m.child = child
    m.argv = etcd.argv
    // etcd writes to its log, not to us: that is where the reason for an exit is.
    m.lastError = `its log: ${etcd.log}`
    this.setState(m, 'starting')
    m.exited = new Promise(resolve => {
      child.on('exit', (code, signal) => {
        this.onExit(m, code, signal)
        resolve()
      })
    })
    await etcd.ready.catch((err: Error) => { throw new ClusterStartError(`etcd failed to start: ${err.message}`, { member: m.spec.name }) })
    m.supervised = true
    this.emit('event', { event: 'member-listening', name: m.spec.name, role: 'etcd', addrs: [`etcd://${etcd.endpoint}`], pid: child.pid ?? 0, restarts: m.restarts })
    this.setState(m, 'running')
  }

  /** Reports an exit and, for a supervised member that was not asked to stop, restarts it or gives up. */
  private onExit (m: Member, code: number | null, signal: string | null): void {
    const { name } = m.spec
    m.child = undefined
    const expected = m.stopping
    const plan = expected || !m.supervised ? undefined : m.budget.next(this.now())
    const lastError = m.lastError === undefined ? {} : { lastError: m.lastError }
    const restart = plan === undefined ? {} : { restartInMs: plan.delayMs, attempt: plan.attempt, maxRestarts: this.policy.maxRestarts }
    this.emit('event', { event: 'member-exited', name, code, signal, expected, ...lastError, ...restart })
    if (plan !== undefined) {
      this.setState(m, 'restarting')
      m.restartTimer = setTimeout(() => {
        m.restarts++
        // A restart that fails exits again, and comes back here.
        this.launch(m).catch(() => {})
      }, plan.delayMs)
    } else {
      this.setState(m, expected ? 'stopped' : 'failed')
      if (!expected && m.supervised) {
        this.emit('event', { event: 'member-gave-up', name, restarts: this.policy.maxRestarts, windowMs: this.policy.windowMs, command: handCommand(m.spec.role === 'etcd' ? m.argv : ['gds', ...m.argv]) })
      }
    }
  }

  private setState (m: Member, state: MemberStateName): void {
    m.state = state
    m.since = this.now()
    // Written in order, one at a time; nothing to write once the cluster has stopped.
    if (this.unlock === undefined || this.stopping !== undefined) return
    const snapshot = this.snapshot()
    this.writing = this.writing.then(async () => writeClusterState(snapshot)).catch(() => {})
  }

  private async stopMember (m: Member): Promise<void> {
    const child = m.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGINT')
    const timeout = setTimeout(() => { child.kill('SIGKILL') }, this.opts.stopTimeoutMs ?? 5_000)
    await m.exited
    clearTimeout(timeout)
  }
}

function exitText (code: number | null, signal: string | null): string {
  return signal ?? `exit code ${code}`
}

/** The member's command line as a user would type it: same data dir, same database, same registry. */
function handCommand (argv: string[]): string {
  return argv.map(a => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`).join(' ')
}

function safeMsg (line: string): string | undefined {
  try {
    const o = JSON.parse(line)
    return o.level >= 50 ? o.msg : undefined
  } catch {
    return line
  }
}
