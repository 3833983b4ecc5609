import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, createWriteStream, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { EtcdMissingError, EtcdStartError } from '../node/errors.js'

/** How long a local etcd may take to answer /health after it is spawned (a loaded machine: seconds). */
const READY_TIMEOUT_MS = 30_000
const READY_POLL_MS = 100

/** The `etcd` binary on PATH, or undefined. */
export function findEtcd (env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const p = join(dir, 'etcd')
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

/**
 * Free loopback ports, by binding port 0 and letting go (etcd cannot listen on port 0 and say
 * which it got). All are held until all are known, so the same port is not handed out twice.
 */
export async function freePorts (n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, async () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { resolve(s) })
  })))
  const ports = servers.map(s => (s.address() as { port: number }).port)
  await Promise.all(servers.map(async s => new Promise(resolve => s.close(resolve))))
  return ports
}

export interface EtcdPorts { client: number, peer: number }

export interface LocalEtcd {
  /** HOST:PORT of its client endpoint (what `--store etcd://` takes). */
  endpoint: string
  /** Its ports: a restart on the same ones keeps the address the registries were given. */
  ports: EtcdPorts
  process: ChildProcess
  /** Its command line (for a by-hand hint) and the file its output goes to. */
  argv: string[]
  log: string
  /** Resolves once it answers /health; rejects (after stopping it) when it exits or does not answer in time. */
  ready: Promise<void>
  stop: () => Promise<void>
}

/**
 * A single-member etcd on loopback with its data in `dataDir` (its output in dataDir/etcd.log),
 * spawned now: for `gds cluster up --registries N`, which follows the process as a member.
 */
export function spawnLocalEtcd (dataDir: string, ports: EtcdPorts): LocalEtcd {
  const bin = findEtcd()
  if (bin === undefined) throw new EtcdMissingError()
  const { client, peer } = ports
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const clientUrl = `http://127.0.0.1:${client}`
  const peerUrl = `http://127.0.0.1:${peer}`
  const logPath = join(dataDir, 'etcd.log')
  const log = createWriteStream(logPath, { flags: 'a' })
  const args = [
    '--name', 'gds', '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `gds=${peerUrl}`, '--log-outputs', 'stderr'
  ]
  // Its own process group: a terminal's Ctrl-C stops the registries (and cluster up stops etcd
  // after them), so they do not lose their store while they stop.
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    log.end()
  }
  const ready = (async () => {
    const deadline = Date.now() + READY_TIMEOUT_MS
    let dead = false
    void exited.then(() => { dead = true })
    while (!dead && Date.now() < deadline) {
      try {
        const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) })
        if (res.ok) return
      } catch {}
      await new Promise(resolve => setTimeout(resolve, READY_POLL_MS))
    }
    await stop()
    throw new EtcdStartError(dead ? `etcd exited at start (port ${client} or ${peer} taken, or ${dataDir} unusable): see ${logPath}` : `etcd did not answer within ${READY_TIMEOUT_MS} ms: see ${logPath}`)
  })()
  return { endpoint: `127.0.0.1:${client}`, ports, process: child, argv: [bin, ...args], log: logPath, ready, stop }
}

/** As spawnLocalEtcd, on free ports unless given, and resolved once it answers (tests, benches). */
export async function startLocalEtcd (dataDir: string, ports?: EtcdPorts): Promise<LocalEtcd> {
  const [client, peer] = ports === undefined ? await freePorts(2) : [ports.client, ports.peer]
  const etcd = spawnLocalEtcd(dataDir, { client, peer })
  await etcd.ready
  return etcd
}
