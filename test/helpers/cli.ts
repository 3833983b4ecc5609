import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin', 'run.js')
/** The CLI's state (remembered peers, default data dirs) for this test process only, not the developer's. */
const HOME = mkdtempSync(join(tmpdir(), 'gds-home-'))
process.on('exit', () => { rmSync(HOME, { recursive: true, force: true }) })
/** vitest sets NODE_ENV=test, which would make oclif look for TypeScript sources. */
export const CLI_ENV = { ...process.env, NODE_ENV: 'production', OCLIF_SKIP_NEW_VERSION_CHECK: 'true', GDS_HOME: HOME }
/** Timings for cluster tests: fast detection, still far above loopback RTTs on a busy 2-core box. */
export const FAST = ['--heartbeat-interval', '200', '--heartbeat-timeout', '150', '--failure-threshold', '2']

export type Event = Record<string, any> & { event: string, ts: number }

/** A gds command that prints one JSON object a line (`node start --json`, `logs --follow --json`); its lines can be awaited. */
export class CliProcess<T extends Record<string, any> = Record<string, any>> {
  readonly events: T[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: string | null }>
  private readonly child: ChildProcess
  private waiters: Array<() => void> = []

  /** `script`: another node program printing JSON lines (test/helpers/go-service.mjs). */
  constructor (args: string[], script = BIN) {
    this.child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: CLI_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    createInterface({ input: this.child.stdout! }).on('line', line => {
      try { this.events.push(JSON.parse(line)) } catch { this.stderr += `[stdout] ${line}\n` }
      this.wake()
    })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => {
      this.child.on('exit', (code, signal) => { resolve({ code, signal }); this.wake() })
    })
  }

  get pid (): number { return this.child.pid ?? -1 }
  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  /** The first line matching, already seen or yet to come; fails at the deadline or on exit. */
  async waitFor (match: (e: T) => boolean, label: string, timeoutMs = 15_000, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.events.slice(from).find(match)
      if (found !== undefined) return found
      if (!this.running) throw new Error(`process exited before ${label}; events: ${this.summary()}; stderr: ${this.stderr.slice(-500)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}; events: ${this.summary()}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Lines after this index are "new" (for waiting on the next occurrence of something). */
  mark (): number { return this.events.length }

  signal (sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig)
  }

  /** Graceful stop (SIGINT); SIGKILL if it does not exit in time. Safe to call twice. */
  async stop (timeoutMs = 8_000): Promise<{ code: number | null, signal: string | null }> {
    if (this.running) {
      this.child.kill('SIGCONT')
      this.child.kill('SIGINT')
      const t = setTimeout(() => { this.child.kill('SIGKILL') }, timeoutMs)
      const r = await this.exited
      clearTimeout(t)
      return r
    }
    return this.exited
  }

  /** How a line reads in an error message. */
  protected describe (e: T): string {
    return typeof e.msg === 'string' ? e.msg : JSON.stringify(e).slice(0, 60)
  }

  private summary (): string {
    return this.events.map(e => this.describe(e)).join(', ')
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

/** A `gds node start --json` process whose event lines can be awaited. */
export class NodeProcess extends CliProcess<Event> {
  constructor (args: string[]) {
    super(['node', 'start', '--json', ...args])
  }

  protected override describe (e: Event): string {
    return e.event + (e.name !== undefined ? `:${e.name}` : '')
  }
}

/** A registry and services as real processes, each with its own temp data dir, all on 127.0.0.1. */
export class ProcessCluster {
  readonly procs: NodeProcess[] = []
  private readonly followers: CliProcess[] = []
  private readonly dirs: string[] = []
  registryAddr = ''

  async dir (): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'gds-cluster-'))
    this.dirs.push(d)
    return d
  }

  start (args: string[]): NodeProcess {
    const p = new NodeProcess(args)
    this.procs.push(p)
    return p
  }

  /** A long-running command (`logs --follow --json`, ...) stopped with the cluster. */
  follow (args: string[], script?: string): CliProcess {
    const p = new CliProcess(args, script)
    this.followers.push(p)
    return p
  }

  /** The registry, with the FAST timings unless `timings` says otherwise ([] for the defaults a user gets). */
  async registry (dataDir?: string, port = 0, timings: string[] = FAST): Promise<NodeProcess> {
    const p = this.start(['--role', 'registry', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', dataDir ?? await this.dir(), ...timings])
    const listening = await p.waitFor(e => e.event === 'listening', 'registry listening')
    this.registryAddr = listening.addrs.find((a: string) => a.startsWith('/ip4/127.0.0.1/'))
    return p
  }

  async service (name: string, requires: string[] = [], dataDir?: string, extra: string[] = []): Promise<NodeProcess> {
    const p = this.start(['--role', 'service', '--name', name, '--registry', this.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--data-dir', dataDir ?? await this.dir(), ...(requires.length > 0 ? ['--requires', requires.join(',')] : []), ...extra])
    await p.waitFor(e => e.event === 'registered', `${name} registered`)
    return p
  }

  async stopAll (): Promise<void> {
    await Promise.all([...this.procs, ...this.followers].map(async p => p.stop()))
    this.procs.length = 0
    this.followers.length = 0
    await Promise.all(this.dirs.map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })))
  }
}

/** Runs a one-shot gds command. */
export async function runCli (args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...CLI_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const t = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('exit', code => { clearTimeout(t); resolve({ code, stdout, stderr }) })
  })
}
