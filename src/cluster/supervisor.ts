import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ClusterStartError } from '../node/errors.js'
import type { TimedEvent } from '../node/events.js'

/** One process of a local cluster: a role, the name it registers under, what it requires. */
export interface MemberSpec {
  role: string
  name: string
  requires?: string[]
  /** Extra `node start` flags (e.g. --http-port for webui). */
  args?: string[]
}

export interface SupervisorOptions {
  dataDir: string
  host: string
  registryPort: number
  members: MemberSpec[]
  /** Extra flags for every member (timings, --swarm-key). */
  commonArgs?: string[]
  /** How long a member may take to stop gracefully before it is killed. */
  stopTimeoutMs?: number
}

export type ClusterEvent =
  | { event: 'member-listening', name: string, role: string, peerId: string, addrs: string[], pid: number }
  | { event: 'member-exited', name: string, code: number | null, signal: string | null, expected: boolean, lastError?: string }
  | { event: 'member-event', name: string, detail: TimedEvent }

const BIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'run.js')
/** Long enough for a clean libp2p start on a busy 2-core machine. */
const START_TIMEOUT_MS = 30_000

class Member {
  child?: ChildProcess
  peerId?: string
  addrs: string[] = []
  lastError?: string
  stopping = false
  exited?: Promise<void>

  constructor (readonly spec: MemberSpec) {}
}

/**
 * Runs the roles of a cluster as separate `gds node start --json` processes on this machine,
 * reading their event lines: what `gds cluster up` and the cluster tests build on.
 */
export class Supervisor extends EventEmitter<{ event: [ClusterEvent] }> {
  private readonly members: Member[]
  private registryAddr?: string

  constructor (private readonly opts: SupervisorOptions) {
    super()
    this.members = [new Member({ role: 'registry', name: 'registry' }), ...opts.members.map(m => new Member(m))]
  }

  get registry (): string | undefined { return this.registryAddr }

  /** Starts the registry, then every other member; rejects (after stopping what started) if one fails. */
  async start (): Promise<void> {
    try {
      const [registry, ...rest] = this.members
      await this.launch(registry, ['--listen', `/ip4/${this.opts.host}/tcp/${this.opts.registryPort}`])
      const addr = registry.addrs.find(a => a.includes(`/ip4/${this.opts.host}/`)) ?? registry.addrs[0]
      this.registryAddr = addr
      await Promise.all(rest.map(async m => this.launch(m, ['--listen', `/ip4/${this.opts.host}/tcp/0`, '--registry', addr])))
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stops the services first, the registry last, each gracefully (SIGINT), then by force. */
  async stop (): Promise<void> {
    // A terminal's Ctrl-C reaches the members too: their exits from now on are expected.
    for (const m of this.members) m.stopping = true
    const [registry, ...rest] = this.members
    await Promise.all(rest.map(async m => this.stopMember(m)))
    await this.stopMember(registry)
  }

  private async launch (m: Member, args: string[]): Promise<void> {
    const { role, name, requires = [] } = m.spec
    const argv = [BIN, 'node', 'start', '--json', '--role', role, '--data-dir', join(this.opts.dataDir, name), ...args,
      // Built-in roles register under their role's name; instances differ by data dir only.
      ...(role === 'service' ? ['--name', name] : []), ...(requires.length > 0 ? ['--requires', requires.join(',')] : []),
      ...(m.spec.args ?? []), ...(this.opts.commonArgs ?? [])]
    const child = spawn(process.execPath, argv, { env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] })
    m.child = child
    const listening = Promise.withResolvers<void>()
    const timer = setTimeout(() => { listening.reject(new ClusterStartError(`${name} did not start within ${START_TIMEOUT_MS} ms`)) }, START_TIMEOUT_MS)
    createInterface({ input: child.stderr! }).on('line', line => {
      // Keep the last thing a member said on stderr: it explains a failed start.
      const text = line.startsWith('{') ? safeMsg(line) : line
      if (text !== undefined && text !== '') m.lastError = text.replace(/^Error: /, '')
    })
    createInterface({ input: child.stdout! }).on('line', line => {
      let e: TimedEvent
      try { e = JSON.parse(line) } catch { return }
      if (e.event === 'listening') {
        m.peerId = e.peerId
        m.addrs = e.addrs
        this.emit('event', { event: 'member-listening', name, role, peerId: e.peerId, addrs: e.addrs, pid: child.pid ?? 0 })
        listening.resolve()
      } else {
        this.emit('event', { event: 'member-event', name, detail: e })
      }
    })
    m.exited = new Promise(resolve => {
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        listening.reject(new ClusterStartError(`${name} failed to start: ${m.lastError ?? `exit code ${code}`}`))
        this.emit('event', { event: 'member-exited', name, code, signal, expected: m.stopping, ...(m.lastError === undefined ? {} : { lastError: m.lastError }) })
        resolve()
      })
    })
    try {
      await listening.promise
    } finally {
      clearTimeout(timer)
    }
  }

  private async stopMember (m: Member): Promise<void> {
    const child = m.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    m.stopping = true
    child.kill('SIGINT')
    const timeout = setTimeout(() => { child.kill('SIGKILL') }, this.opts.stopTimeoutMs ?? 5_000)
    await m.exited
    clearTimeout(timeout)
  }
}

function safeMsg (line: string): string | undefined {
  try {
    const o = JSON.parse(line)
    return o.level >= 50 ? o.msg : undefined
  } catch {
    return line
  }
}
