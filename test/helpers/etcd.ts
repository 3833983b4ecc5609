import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findEtcd, startLocalEtcd, type LocalEtcd } from '../../src/cluster/etcd.js'

/** Whether the etcd tests can run here; when not, why (printed once, the tests are skipped). */
export const ETCD_BIN = findEtcd()
if (ETCD_BIN === undefined) console.warn('etcd tests skipped: no etcd on PATH (apt-get install etcd-server; CI installs it in .ci/run)')

/** A real etcd on free loopback ports with a temp data dir; `restart` keeps its ports and data. */
export class TestEtcd {
  private etcd?: LocalEtcd
  private dir?: string
  private ports?: { client: number, peer: number }

  get endpoint (): string {
    if (this.ports === undefined) throw new Error('etcd not started')
    return `127.0.0.1:${this.ports.client}`
  }

  get url (): string { return `etcd://${this.endpoint}` }

  get running (): boolean {
    const p = this.etcd?.process
    return p !== undefined && p.exitCode === null && p.signalCode === null
  }

  async start (): Promise<void> {
    if (this.running) return
    this.dir ??= await mkdtemp(join(tmpdir(), 'gds-etcd-'))
    this.etcd = await startLocalEtcd(this.dir, this.ports)
    this.ports = this.etcd.ports
  }

  /** kill -9: no goodbye, as in a crash. */
  async kill (): Promise<void> {
    const p = this.etcd?.process
    if (p === undefined || !this.running) return
    const gone = new Promise(resolve => p.once('exit', resolve))
    p.kill('SIGKILL')
    await gone
  }

  /** SIGSTOP: etcd stalls (a loaded or swapping machine), its connections stay open. */
  pause (): void { this.signal('SIGSTOP') }
  resume (): void { this.signal('SIGCONT') }

  private signal (sig: NodeJS.Signals): void {
    if (!this.running) throw new Error('etcd not running')
    this.etcd?.process.kill(sig)
  }

  async stop (): Promise<void> {
    // A paused etcd does not take SIGTERM until it runs again.
    if (this.running) this.resume()
    await this.etcd?.stop()
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true })
  }
}
