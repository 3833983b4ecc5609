import '../polyfills.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { z } from 'zod'
import { DEFAULT_REGISTRY_ADDR } from './config.js'
import { InvalidMessageError, RegistryUnreachableError } from './errors.js'
import { ListAssembler } from './pages.js'
import { createClientLibp2p, type ClientLibp2p } from './libp2p.js'
import { MuxClient } from './mux.js'
import { MAX_REGISTRY_FRAME, MAX_REGISTRY_IN_FLIGHT, REGISTRY_PROTOCOL, WATCH_PROTOCOL } from './protocols.js'
import { Channel } from './framing.js'
import { listPage, listResult, lookupResult, suspectResult, watchFrame, type WatchFrame, type WatchMessage, type ListResult, type ProviderRecord, type RegistryRequest } from './schemas.js'
import type { CallOptions } from './balancer.js'
import { Caller, LookupCache } from './caller.js'
import { checkPinned, parseRegistryAddr, parseRegistryList } from './registry-pin.js'
import { readSwarmKey } from './swarm-key.js'
import { peerAddr, readKnownPeers, recall, updateKnownPeers } from './known-peers.js'

export interface RegistryClientOptions {
  /** Multiaddr of the registry. @default GDS_REGISTRY or /ip4/127.0.0.1/tcp/4001 */
  registry?: string
  /**
   * Ask these nodes instead of the registry, in turn until one answers: any node answers
   * `list` and `lookup` from the whole catalogue it holds, so calls work while the registry is
   * away (`--peer`, GDS_PEER on the command line).
   */
  peers?: string[]
  /** Path of the swarm key of a private network. */
  swarmKeyFile?: string
  timeoutMs?: number
  /**
   * Remember the peers the registry's answers name in this file (src/node/known-peers.ts), and
   * when no registry answers, ask them instead (no `peers` given). The CLI keeps it in
   * `<stateDir>/known-peers.json`.
   */
  knownPeersFile?: string
  /**
   * Whether to ask remembered peers when no registry answers. False: the error only names one
   * (`gds status` is the registry's view unless --peer says otherwise). @default true
   */
  askRemembered?: boolean
}

/** What a client talks to: the registry, or a peer standing in for it. */
type Counterpart = 'the registry' | 'the peer'

/** A registry that did not answer, and the remembered peer that did instead. */
export interface Fallback { registryError: string, peer: string }

/**
 * A short-lived connection to the registry for one-shot questions (`gds status`, scripts).
 * Close it when done.
 */
export class RegistryClient {
  private readonly caller: Caller
  /**
   * Requests share one stream, opened by the first. A one-shot `gds status` pays exactly what a
   * stream per request did (one stream, one round trip); a script asking more reuses it.
   */
  private readonly requests: MuxClient
  /** Peers the registry's answers named (peer id → address), to remember at close. */
  private readonly learnt = new Map<string, string>()
  /** Where to remember them (set when talking to a registry). */
  private remembering?: { file: string | undefined, registry: string }
  /** Set when no registry answered and a remembered peer does instead. */
  fallback?: Fallback

  private constructor (private readonly p2p: ClientLibp2p, private readonly addr: Multiaddr, private readonly timeoutMs: number, private readonly hasSwarmKey: boolean, private readonly counterpart: Counterpart) {
    this.requests = new MuxClient(p2p, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: MAX_REGISTRY_IN_FLIGHT, timeoutMs })
    // A client is the top of its own stack: the clock and randomness are read here, not below.
    this.caller = new Caller({
      libp2p: p2p,
      source: new LookupCache(async s => this.lookup(s), Date.now),
      reportSuspect: peerId => { void this.ask({ op: 'suspect', peerId }, suspectResult).catch(() => {}) },
      now: Date.now,
      random: Math.random
    })
  }

  static async connect (opts: RegistryClientOptions = {}): Promise<RegistryClient> {
    if ((opts.peers ?? []).length > 0) return RegistryClient.openPeers(opts.peers!, opts)
    // Several registries share one catalogue: any that answers will do, in the order given.
    const registry = opts.registry ?? process.env.GDS_REGISTRY ?? DEFAULT_REGISTRY_ADDR
    let failure: any
    for (const addr of parseRegistryList(registry)) {
      try {
        const client = await RegistryClient.open(addr, 'the registry', opts)
        client.remembering = { file: opts.knownPeersFile, registry }
        return client
      } catch (err: any) {
        if (err?.name !== 'RegistryUnreachableError') throw err
        failure = err
      }
    }
    const hint = 'while the registry is down, any node of the cluster can answer: pass its address with --peer (or GDS_PEER)'
    const remembered = opts.knownPeersFile === undefined ? [] : recall(await readKnownPeers(opts.knownPeersFile), registry).filter(isMultiaddr)
    if (remembered.length === 0) throw new RegistryUnreachableError(`${failure.message as string}; ${hint}`, { cause: failure })
    if (opts.askRemembered === false) throw new RegistryUnreachableError(`${failure.message as string}; ${hint}, such as one the registry named earlier: ${remembered[0]}`, { cause: failure })
    try {
      const client = await RegistryClient.openPeers(remembered, opts)
      client.fallback = { registryError: failure.message, peer: client.addr.toString() }
      return client
    } catch (err: any) {
      if (err?.name !== 'RegistryUnreachableError') throw err
      throw new RegistryUnreachableError(`${failure.message as string}; nor did the peers remembered from its earlier answers (${opts.knownPeersFile!}): ${err.message as string}; ${hint}`, { cause: failure })
    }
  }

  /** Each peer in turn: the error names every one tried and why it did not answer. */
  private static async openPeers (peers: readonly string[], opts: RegistryClientOptions): Promise<RegistryClient> {
    const tried: string[] = []
    for (const peer of peers) {
      try {
        return await RegistryClient.open(parseRegistryAddr(peer, '--peer'), 'the peer', opts)
      } catch (err: any) {
        if (err?.name !== 'RegistryUnreachableError') throw err
        tried.push(err.message)
      }
    }
    throw new RegistryUnreachableError(tried.length === 1 ? tried[0] : `no peer answered (tried ${tried.length}): ${tried.join('; ')}`)
  }

  private static async open (addr: Multiaddr, counterpart: Counterpart, opts: RegistryClientOptions): Promise<RegistryClient> {
    const swarmKey = await readSwarmKey(opts.swarmKeyFile)
    const p2p = await createClientLibp2p({ swarmKey })
    const client = new RegistryClient(p2p, addr, opts.timeoutMs ?? 3_000, swarmKey !== undefined, counterpart)
    try {
      await client.dial()
    } catch (err) {
      await client.close()
      throw err
    }
    return client
  }

  /** The catalogue, in pages (one frame could not carry it at the cap), joined into one answer. */
  async list (): Promise<ListResult> {
    const whole = new ListAssembler()
    try {
      for await (const page of this.requests.stream(this.addr, { op: 'list', stream: true }, listPage)) whole.add(page)
    } catch (err: any) {
      // A registry from before paging refuses the field: ask it the old way.
      if (err?.name === 'InvalidMessageError' && /malformed message/.test(err.message)) return this.ask({ op: 'list' }, listResult)
      throw unreachable(this.counterpart, this.addr, err)
    }
    const result = whole.result()
    if (result === undefined) throw new InvalidMessageError('the registry\'s list answer named no registry')
    this.learn(result.services)
    return result
  }

  async lookup (name: string): Promise<ProviderRecord[]> {
    const { providers } = await this.ask({ op: 'lookup', name }, lookupResult)
    this.learn(providers)
    return providers
  }

  private learn (records: readonly ProviderRecord[]): void {
    if (this.remembering?.file === undefined) return
    for (const r of records) {
      const addr = peerAddr(r)
      if (addr !== undefined) this.learnt.set(r.peerId, addr)
    }
  }

  /** Calls a service method through the balancer, among the providers the registry lists now. */
  async call<T = unknown> (service: string, method: string, params?: unknown, opts?: CallOptions): Promise<T> {
    return this.caller.call<T>(service, method, params, opts)
  }

  stream<T = unknown> (service: string, method: string, params?: unknown, opts?: CallOptions): AsyncGenerator<T> {
    return this.caller.stream<T>(service, method, params, opts)
  }

  /**
   * The registry's catalogue as a live stream: a snapshot, then every change, then liveness
   * figures each second. Ends when the registry goes away or `signal` aborts.
   */
  async * watch (signal?: AbortSignal): AsyncGenerator<WatchMessage> {
    let stream
    try {
      stream = await this.p2p.dialProtocol(this.addr, WATCH_PROTOCOL, { signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err: any) {
      throw new RegistryUnreachableError(`cannot watch the registry at ${this.addr.toString()}: ${describeDialError(err, this.hasSwarmKey)}`, { cause: err })
    }
    const ch = new Channel(stream, MAX_REGISTRY_FRAME)
    const onAbort = (): void => { ch.abort(new Error('watch cancelled')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const read = async (): Promise<WatchFrame | undefined> => {
      try {
        return await ch.read(watchFrame)
      } catch (err) {
        if (signal?.aborted === true) return undefined
        throw new RegistryUnreachableError('the registry closed the watch stream', { cause: err })
      }
    }
    try {
      await ch.write({ type: 'watch' })
      for (;;) {
        const frame = await read()
        if (frame === undefined) return
        if (frame.type === 'snapshot-more') throw new InvalidMessageError('the registry sent a snapshot page with no snapshot before it')
        if (frame.type !== 'snapshot' || frame.more !== true) {
          yield frame.type === 'snapshot' ? withoutMore(frame) : frame
          continue
        }
        // A snapshot in pages: joined here, so every observer sees the catalogue whole.
        const services = [...frame.services]
        for (let more = true; more;) {
          const page = await read()
          if (page === undefined) return
          if (page.type !== 'snapshot-more') throw new InvalidMessageError(`the registry broke off a snapshot with a ${page.type} message`)
          for (const r of page.services) services.push(r)
          more = page.more === true
        }
        yield { ...withoutMore(frame), services }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
      ch.abort(new Error('watch ended'))
    }
  }

  async close (): Promise<void> {
    this.caller.close()
    this.requests.close()
    try { await this.p2p.stop() } catch { /* closing anyway */ }
    const { file, registry } = this.remembering ?? {}
    if (file === undefined || registry === undefined || this.learnt.size === 0) return
    // A cache: a home that cannot be written costs the next command its fallback, not this one its answer.
    try { await updateKnownPeers(file, registry, [...this.learnt.values()].reverse(), Date.now()) } catch {}
  }


  private async dial (): Promise<void> {
    let remote
    try {
      remote = (await this.p2p.dial(this.addr, { signal: AbortSignal.timeout(this.timeoutMs) })).remotePeer
    } catch (err: any) {
      throw new RegistryUnreachableError(`cannot reach ${this.counterpart} at ${this.addr.toString()}: ${describeDialError(err, this.hasSwarmKey, this.counterpart)}`, { cause: err })
    }
    checkPinned(this.addr, remote)
  }

  private async ask<S extends z.ZodType> (req: RegistryRequest, schema: S): Promise<z.infer<S>> {
    try {
      return await this.requests.request(this.addr, req, schema)
    } catch (err: any) {
      throw unreachable(this.counterpart, this.addr, err)
    }
  }
}

type SnapshotFrame = Extract<WatchFrame, { type: 'snapshot' }>

function withoutMore ({ more: _, ...snapshot }: SnapshotFrame): Omit<SnapshotFrame, 'more'> {
  return snapshot
}

function isMultiaddr (text: string): boolean {
  try {
    parseRegistryAddr(text, '--peer')
    return true
  } catch {
    return false
  }
}

/** A lost link or a missed deadline means the registry is unreachable (exit code 2); others stay. */
function unreachable (counterpart: Counterpart, addr: Multiaddr, err: any): Error {
  if (err?.name === 'PeerUnavailableError' || err?.name === 'RequestTimeoutError') {
    return new RegistryUnreachableError(`${counterpart} at ${addr.toString()} did not answer: ${err.message}`, { cause: err })
  }
  return err
}

/** Whether a dial failed because the address actively refused it (the process is gone). */
export function isDialRefused (err: any): boolean {
  const text = `${err?.message ?? ''} ${err?.code ?? ''} ${(err?.errors ?? []).map((e: any) => `${e?.message} ${e?.code}`).join(' ')}`
  return text.includes('ECONNREFUSED')
}

/**
 * A dial error as a sentence a user can act on: what happened and what to check. `swarmKey`
 * says whether this side dialled with a private-network key (undefined: not known here).
 */
export function describeDialError (err: any, swarmKey?: boolean, counterpart: Counterpart = 'the registry'): string {
  const text = `${err?.name ?? ''} ${err?.message ?? err} ${err?.errors?.map((e: any) => e?.message).join(' ') ?? ''}`
  if (/does not match expected remote identity/i.test(text)) return `the peer there is not the pinned ${counterpart === 'the registry' ? 'registry' : 'peer'} (it has another peer id; check the /p2p/ part of the address)`
  if (/no valid addresses/i.test(text)) return 'nothing there this node can dial (gds speaks TCP: /ip4/HOST/tcp/PORT, /ip6/... or /dns4/..., optionally ending in /p2p/<peer id>)'
  if (/ECONNREFUSED/.test(text)) {
    return counterpart === 'the registry'
      ? 'connection refused (is a registry running there? start one with "gds node start --role registry")'
      : 'connection refused (is that node still running? its address is in its "listening" event)'
  }
  const keyHint = swarmKey === true
    ? 'the registry is on another private network (another swarm key: check --swarm-key), or the port is not a gds registry'
    : swarmKey === false
      ? 'the registry is on a private network (swarm key) and this command has none: pass --swarm-key; or the port is not a gds registry'
      : 'a different or missing --swarm-key, or the port is not a gds registry'
  // Reset before we could send a byte: the node took the TCP connection and refused it at the
  // door (its admission limits), which a swarm key mismatch never does (that needs our bytes).
  if (/connect ECONNRESET/.test(text)) return `the registry refused the connection at once: it is at its limit of connections waiting for their handshake (from this host, or in total) or of connections; try again shortly`
  const overloaded = 'the registry may be overloaded with connections waiting for their handshake (try again shortly)'
  if (/abort|timeout/i.test(text)) return `no answer in time: the handshake did not finish (${overloaded}; or ${keyHint}; or nothing answers at that address)`
  // What a peer that does not speak our handshake makes the first read fail with: pnet's random
  // bytes read as a length prefix, a non-multistream line, a reset. A refusal at the door can
  // also come as a reset once we have started, so it is named too.
  if (/EncryptionFailed|ECONNRESET|Message length too long|Missing newline|multistream|protocol selection|Invalid (message|length)|EOF|unexpected end/i.test(text)) {
    const refused = /ECONNRESET/.test(text) ? '; or the registry refused the connection: it is at its limit of connections waiting for their handshake, try again shortly' : ''
    return `the handshake failed (${keyHint}${refused})`
  }
  return err?.message ?? String(err)
}
