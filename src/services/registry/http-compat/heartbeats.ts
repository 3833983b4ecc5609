import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Liveness } from '../../../node/heartbeat.js'
import { ProbeFailure } from '../../../node/heartbeat-link.js'
import { TimerWheel } from '../../../node/timer-wheel.js'
import { ProbeLoop, type ProbeLoopOptions } from '../probe-loop.js'

export type HttpProberOptions = ProbeLoopOptions

/** A heartbeat answer is "200"; more than this much body is not a heartbeat. */
const MAX_HEARTBEAT_BODY = 64 * 1024

/**
 * Probes services of the HTTP API: a GET of each one's HeartbeatURL (200 = alive) on the same
 * beat, timeout and threshold as libp2p providers (probe-loop.ts), each on its own slot of one
 * timer wheel, so a hung endpoint costs only its own probes. Each service keeps one keep-alive
 * connection (node:http, whose sockets can be watched; fetch's cannot): when it closes while
 * idle, the process may be gone, so it is probed at once, and a refused connect is down at
 * once: the crash fast path libp2p providers get from their connection.
 */
export class HttpProber {
  private readonly probes = new Map<string, HttpProbe>()
  private readonly wheel = new TimerWheel()
  private stopped = false

  constructor (private readonly opts: HttpProberOptions) {}

  /** Starts probing `key` at `url` (no-op if probed already); `immediately` for a reloaded catalogue. */
  add (key: string, url: string, opts: { immediately?: boolean, reset?: boolean, status?: Liveness } = {}): void {
    if (this.stopped) return
    const p = this.probes.get(key)
    if (p !== undefined && p.url === url) {
      if (opts.reset === true) p.loop.reset()
      return
    }
    p?.stop()
    const probe = new HttpProbe(key, url, this.opts, this.wheel, opts.status)
    this.probes.set(key, probe)
    probe.loop.schedule(opts.immediately === true ? 'now' : 'interval')
  }

  remove (key: string): void {
    this.probes.get(key)?.stop()
    this.probes.delete(key)
  }

  stop (): void {
    this.stopped = true
    for (const p of this.probes.values()) p.stop()
    this.probes.clear()
    this.wheel.stop()
  }
}

class HttpProbe {
  readonly loop: ProbeLoop
  private readonly agent: http.Agent
  /** Sockets back in the agent's pool, between two probes. */
  private readonly idle = new WeakSet<Socket>()
  private readonly watched = new WeakSet<Socket>()
  private lastCloseProbe = -Infinity

  constructor (key: string, readonly url: string, private readonly opts: HttpProberOptions, wheel: TimerWheel, status?: Liveness) {
    const https_ = url.startsWith('https:')
    this.agent = https_ ? new https.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 })
    this.agent.on('free', (socket: Socket) => { this.watch(socket) })
    this.loop = new ProbeLoop(key, opts, wheel, async timeoutMs => this.roundTrip(timeoutMs), status)
  }

  stop (): void {
    this.loop.stop()
    this.agent.destroy()
  }

  private watch (socket: Socket): void {
    this.idle.add(socket)
    if (this.watched.has(socket)) return
    this.watched.add(socket)
    socket.once('close', () => {
      if (!this.idle.has(socket)) return
      // A server that closes idle connections at once would otherwise be probed flat out.
      const now = this.opts.now()
      if (now - this.lastCloseProbe < this.opts.heartbeatIntervalMs) return
      this.lastCloseProbe = now
      this.loop.trigger('connection-closed')
    })
  }

  private async roundTrip (timeoutMs: number): Promise<number> {
    const get = this.url.startsWith('https:') ? https.get : http.get
    const status = await new Promise<number>((resolve, reject) => {
      const req = get(this.url, { agent: this.agent, signal: AbortSignal.timeout(timeoutMs) }, res => {
        let bytes = 0
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (bytes > MAX_HEARTBEAT_BODY) res.destroy()
        })
        res.on('end', () => { resolve(res.statusCode ?? 0) })
        res.on('error', reject)
        res.on('close', () => { resolve(res.statusCode ?? 0) })
      })
      req.on('socket', (s: Socket) => { this.idle.delete(s) })
      req.on('error', reject)
    }).catch((err: any) => {
      if (err?.name === 'AbortError') throw new ProbeFailure('heartbeat-timeout', `no answer within ${timeoutMs} ms`)
      if (err?.code === 'ECONNREFUSED') throw new ProbeFailure('refused', `${this.url}: connection refused`)
      throw new ProbeFailure('unreachable', `${this.url}: ${err?.code ?? err?.message ?? err}`)
    })
    if (status !== 200) throw new ProbeFailure('unreachable', `${this.url} answered ${status}`)
    return 0
  }
}
