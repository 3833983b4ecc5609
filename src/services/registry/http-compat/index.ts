import type { FastifyInstance } from 'fastify'
import { isAvailable, type Catalog, type Change } from '../../../node/catalog.js'
import { parseHostPort } from '../../../node/config.js'
import { InvalidMessageError, NotFoundError, OverloadedError, PatchDeliveryError } from '../../../node/errors.js'
import type { NodeEvent } from '../../../node/events.js'
import { listenText, textServer } from '../../../node/http-text.js'
import type { Logger } from '../../../node/logger.js'
import type { ProviderRecord, Registration } from '../../../node/schemas.js'
import { HttpProber } from './heartbeats.js'
import { httpPeerId } from './identity.js'
import { describe, PatchSender } from './patches.js'
import { checkCallbackHosts, type Lookup } from './url-policy.js'
import { MAX_URL_LENGTH, parseDeregistration, parseRegistration, type GoRegistration, type PatchEntry } from './wire.js'

/** Services of the HTTP API one registry keeps: each costs a heartbeat a second. */
export const MAX_HTTP_REGISTRATIONS = 256
/** A registration is a few hundred bytes. */
export const MAX_HTTP_BODY = 16 * 1024
/** Registrations being answered at once (each waits on its initial patch). */
const MAX_IN_FLIGHT = 16
/** One patch POST may take this long, and is tried this many times. */
const PATCH_TIMEOUT_MS = 2_000
const PATCH_ATTEMPTS = 3
/** How long the initial patch is retried while the service's server is not listening yet. */
const REFUSED_RETRY_MS = 2_000
/** Headers, body and the work of one request (an initial patch at worst). */
const REQUEST_TIMEOUT_MS = 15_000

/**
 * gds roles that also speak a Go service's HTTP API when started with --http-compat, by the
 * catalogue name of the Go service they stand in for: the log node takes POST /log, so a Go
 * service requiring "Log Service" is offered it (at the URL in its `httpUrl` meta).
 */
const HTTP_ROLES: Readonly<Record<string, string>> = { 'log-service': 'log' }
const GO_NAME_OF_ROLE: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(HTTP_ROLES).map(([go, role]) => [role, go]))

export interface HttpCompatOptions {
  /** HOST:PORT (or PORT) to serve the API on. */
  listen: string
  catalog: Catalog
  /** The hub's path for every change: events, libp2p dependents, gossip, persistence, and `onChanges`. */
  publish: (changes: Change[]) => void
  log: Logger
  now: () => number
  random: () => number
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
  failureThreshold: number
  emit?: (e: NodeEvent) => void
  /** Name resolution for url-policy.ts (tests pass their own). */
  lookup?: Lookup
  /** @default MAX_HTTP_REGISTRATIONS */
  maxRegistrations?: number
}

/**
 * The original Go registry's HTTP API on a gds registry (--http-compat): Go services register,
 * are health-checked and get their patches, and stand in the catalogue as `transport: http`
 * entries beside the libp2p providers. HTTP dependents are offered the providers they can
 * reach over HTTP: HTTP entries, and the gds roles of HTTP_ROLES that serve the Go API.
 */
export class HttpCompat {
  private readonly catalog: Catalog
  private readonly prober: HttpProber
  private readonly patches: PatchSender
  private app?: FastifyInstance
  private inFlight = 0
  /** New URLs whose registration is under way. */
  private readonly reserved = new Set<string>()
  url?: string

  constructor (private readonly opts: HttpCompatOptions) {
    this.catalog = opts.catalog
    this.patches = new PatchSender({ log: opts.log, timeoutMs: PATCH_TIMEOUT_MS, attempts: PATCH_ATTEMPTS, desired: key => this.desired(key) })
    // The same beat, timeout and threshold as the hub's libp2p prober.
    const { log, now, random, heartbeatIntervalMs, heartbeatTimeoutMs, failureThreshold } = opts
    this.prober = new HttpProber({
      log, now, random, heartbeatIntervalMs, heartbeatTimeoutMs, failureThreshold,
      onTransition: (peerId, t) => { this.opts.publish(this.catalog.setPeerStatus(peerId, t.to, t.reason, now())) },
      onAck: (peerId, figures) => { this.catalog.observe(peerId, figures, now()) }
    })
  }

  /** Listens, and probes at once the HTTP entries a restarted registry reloaded. */
  async start (): Promise<void> {
    for (const r of this.catalog.all()) {
      if (r.transport === 'http' && r.status !== 'leaving' && r.meta.heartbeatUrl !== undefined) {
        this.prober.add(r.peerId, r.meta.heartbeatUrl, { immediately: true, status: r.status })
        // They were told the catalogue as it was persisted; the probes' verdicts are news to them.
        this.patches.assume(r.peerId, this.offeredTo(r.requires, parseGoRequires(r.meta.goRequires), r.peerId))
      }
    }
    const { host, port } = parseHostPort(this.opts.listen)
    const app = textServer({ bodyLimit: MAX_HTTP_BODY, requestTimeoutMs: REQUEST_TIMEOUT_MS, log: this.opts.log })
    app.post('/services', async (req, reply) => {
      await this.register(String(req.body ?? ''), req.socket.remoteAddress ?? '')
      return reply.code(200).send()
    })
    app.delete('/services', async (req, reply) => {
      await this.deregister(String(req.body ?? ''))
      return reply.code(200).send()
    })
    this.app = app
    this.url = await listenText(app, host, port, 'choose another with --http-compat HOST:PORT')
    if (!/^(127\.|\[::1\]|localhost)/.test(new URL(this.url).hostname)) {
      this.opts.log.warn({ url: this.url }, 'the Go registry API listens beyond loopback: anyone who reaches it may register a service')
    }
    this.opts.emit?.({ event: 'serving', service: 'http-compat', url: this.url })
  }

  async stop (): Promise<void> {
    this.prober.stop()
    this.patches.stop()
    await this.app?.close()
  }

  /** POST /services: validate, send the initial patch, then apply (a refusal changes nothing). */
  async register (body: string, remoteAddress: string): Promise<void> {
    const reg = parseRegistration(body)
    if (JSON.stringify(reg.goRequires).length > MAX_URL_LENGTH) throw new InvalidMessageError(`RequiredServices is too long (at most ${MAX_URL_LENGTH} characters of JSON)`)
    if (this.inFlight >= MAX_IN_FLIGHT) throw new OverloadedError('too many registrations at once; try again in a moment')
    const peerId = httpPeerId(reg.url)
    const max = this.opts.maxRegistrations ?? MAX_HTTP_REGISTRATIONS
    // A new URL holds a place while its initial patch is on its way, so a burst cannot pass the cap.
    const isNew = this.catalog.ofPeer(peerId).length === 0 && !this.reserved.has(peerId)
    if (isNew && this.catalog.all().filter(r => r.transport === 'http').length + this.reserved.size >= max) {
      throw new OverloadedError(`this registry holds ${max} HTTP services, its limit; deregister one first (DELETE /services)`)
    }
    this.inFlight++
    if (isNew) this.reserved.add(peerId)
    try {
      await checkCallbackHosts([reg.url, reg.updateUrl, reg.heartbeatUrl], remoteAddress, this.opts.lookup)
      const sent = this.offeredTo(reg.requires, reg.goRequires, peerId)
      try {
        await this.patches.deliver(reg.updateUrl, { Added: sent, Removed: [] }, REFUSED_RETRY_MS)
      } catch (err) {
        throw new PatchDeliveryError(reg.updateUrl, describe(err))
      }
      this.patches.assume(peerId, sent)
      this.apply(peerId, reg)
      // Whatever changed while the initial patch was on its way is told now.
      this.patches.sync(peerId)
    } finally {
      this.inFlight--
      if (isNew) this.reserved.delete(peerId)
    }
  }

  /** DELETE /services: the body is the service URL. */
  async deregister (body: string): Promise<void> {
    const url = parseDeregistration(body)
    const peerId = httpPeerId(url)
    const names = this.catalog.ofPeer(peerId).filter(r => r.status !== 'leaving').map(r => r.name)
    if (names.length === 0) throw new NotFoundError(`no service is registered at ${url}`)
    this.prober.remove(peerId)
    this.patches.drop(peerId)
    this.opts.publish(this.catalog.deregister(peerId, names, this.opts.now()))
  }

  /** Every change the hub publishes: patches to HTTP dependents of the providers that came or went. */
  onChanges (changes: readonly Change[]): void {
    const affected = new Set<string>()
    for (const c of changes) {
      const r = c.record
      if (r.transport === 'http') {
        // Gone, unless the URL was registered again under another name.
        if ((c.removed === true || r.status === 'leaving') && !this.catalog.ofPeer(r.peerId).some(x => x.status !== 'leaving')) {
          this.prober.remove(r.peerId)
          this.patches.drop(r.peerId)
        } else if (r.status === 'up' && c.previous === 'down') {
          // Back from down: what it was not told meanwhile, it is told now.
          affected.add(r.peerId)
        }
      }
      const name = r.transport === 'http' ? r.name : GO_NAME_OF_ROLE[r.name]
      if (httpUrlOf(r) === undefined || name === undefined) continue
      const was = c.previous !== undefined && c.previous !== 'down' && c.previous !== 'leaving'
      const is = c.removed !== true && isAvailable(r)
      if (was === is) continue
      for (const dep of this.catalog.dependentsOf(name)) {
        if (dep !== r.peerId) affected.add(dep)
      }
    }
    for (const dep of affected) this.patches.sync(dep)
  }

  /** What HTTP dependent `peerId` should know now (undefined: not an HTTP dependent, or down). */
  private desired (peerId: string): { updateUrl: string, entries: PatchEntry[] } | undefined {
    const own = this.catalog.ofPeer(peerId).find(r => r.transport === 'http' && r.status !== 'leaving')
    const updateUrl = own?.meta.updateUrl
    if (own === undefined || updateUrl === undefined || !isAvailable(own)) return undefined
    return { updateUrl, entries: this.offeredTo(own.requires, parseGoRequires(own.meta.goRequires), peerId) }
  }

  private apply (peerId: string, reg: GoRegistration): void {
    const now = this.opts.now()
    const existing = this.catalog.ofPeer(peerId)
    const changes: Change[] = []
    // One URL is one instance: registered again under another name, its old entry leaves.
    const others = existing.filter(r => r.name !== reg.name && r.status !== 'leaving').map(r => r.name)
    if (others.length > 0) changes.push(...this.catalog.deregister(peerId, others, now))
    const same = existing.find(r => r.name === reg.name)
    const registration: Registration = {
      name: reg.name,
      addrs: [],
      requires: reg.requires,
      version: '0.0.0',
      meta: { goName: reg.goName, updateUrl: reg.updateUrl, heartbeatUrl: reg.heartbeatUrl, goRequires: JSON.stringify(reg.goRequires) },
      // Same URL, same incarnation: registering twice is idempotent (the original kept duplicates).
      incarnation: same?.incarnation ?? now,
      seq: 0
    }
    const r = this.catalog.register(peerId, registration, now, { url: reg.url })
    if (r.changed) changes.push({ record: r.record, previous: r.previous })
    this.prober.add(peerId, reg.heartbeatUrl, { reset: r.changed })
    this.opts.publish(changes)
  }

  /** The providers of a dependent's required names it can reach over HTTP, as its patches name them. */
  private offeredTo (requires: readonly string[], goRequires: readonly string[], self: string): PatchEntry[] {
    return requires.flatMap((name, i) => {
      const role = HTTP_ROLES[name]
      const candidates = role === undefined ? this.catalog.providersOf(name) : [...this.catalog.providersOf(name), ...this.catalog.providersOf(role)]
      return candidates.flatMap(p => {
        const url = httpUrlOf(p)
        return url === undefined || p.peerId === self || !isAvailable(p) ? [] : [{ Name: goRequires[i] ?? name, URL: url }]
      })
    })
  }
}

/** Where a Go service reaches this provider: an HTTP entry's URL, or a role's http(s) `httpUrl` meta. */
function httpUrlOf (r: ProviderRecord): string | undefined {
  if (r.transport === 'http') return r.url
  const url = r.meta.httpUrl
  if (url === undefined) return undefined
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}

function parseGoRequires (text: string | undefined): string[] {
  try {
    const v = JSON.parse(text ?? '[]')
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}
