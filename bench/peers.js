// A child process hosting many lightweight service peers for the registry benches: each is a
// dial-only libp2p node that answers the registry's heartbeats exactly as a service does and
// sends registry requests over one multiplexed stream. Driven over IPC by bench/peer-pool.js.
import '../dist/polyfills.js'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_TIMINGS } from '../dist/node/config.js'
import { beatEveryMs } from '../dist/node/heartbeat.js'
import { createClientLibp2p } from '../dist/node/libp2p.js'
import { MuxClient } from '../dist/node/mux.js'
import { HEARTBEAT_PROTOCOL, HEARTBEAT_PUSH_PROTOCOL, MAX_INBOUND_SESSION_STREAMS, MAX_REGISTRY_FRAME, MAX_REGISTRY_IN_FLIGHT, REGISTRY_PROTOCOL } from '../dist/node/protocols.js'
import { answerProbes } from '../dist/node/registry-session.js'
import { listResult, lookupResult, registerResult } from '../dist/node/schemas.js'

const registry = multiaddr(process.env.REGISTRY)
/** The registry's --heartbeat-interval (the benches run it at the default). */
const HEARTBEAT_INTERVAL_MS = Number(process.env.HEARTBEAT_INTERVAL_MS ?? DEFAULT_TIMINGS.heartbeatIntervalMs)
const DIAL_ATTEMPTS = 3
const peers = []
/** Heartbeats these peers gave (acks and pushed beats), and frames the registry sent them on it (probes, echoes). */
let heartbeats = 0
let heard = 0
/** Heartbeat streams open: one per peer once the registry has reached every one. */
let streams = 0

async function startPeer () {
  const p2p = await createClientLibp2p()
  // As a service: beats pushed to the registry (the only peer that opens this stream here).
  await p2p.handle([HEARTBEAT_PUSH_PROTOCOL, HEARTBEAT_PROTOCOL], stream => {
    streams++
    stream.addEventListener('close', () => { streams-- }, { once: true })
    void answerProbes(stream, () => { heartbeats++; return { health: 'ok', load: 0 } }, { pushEveryMs: beatEveryMs(HEARTBEAT_INTERVAL_MS), onContact: () => { heard++ } }).catch(() => {})
  }, { maxInboundStreams: MAX_INBOUND_SESSION_STREAMS })
  // On a loaded host a handshake can miss libp2p's upgrade timeout: try again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await p2p.dial(registry, { signal: AbortSignal.timeout(20_000) })
      break
    } catch (err) {
      if (attempt === DIAL_ATTEMPTS) { await p2p.stop(); throw err }
    }
  }
  return { p2p, requests: new MuxClient(p2p, REGISTRY_PROTOCOL, { maxBytes: MAX_REGISTRY_FRAME, maxInFlight: MAX_REGISTRY_IN_FLIGHT, timeoutMs: 20_000 }) }
}

/** The peer the next name of a round-robin share goes to. */
let turn = 0

/**
 * Each peer registers its share of `names` (dealt round-robin, continuing where the last call
 * stopped, so that over all calls no peer holds more than its share of the total: a peer that
 * always took the first names of every call went past MAX_NAMES_PER_PEER and was refused),
 * `concurrency` requests in flight at a time; with `perPeer`, each peer registers one name of
 * its own (`<perPeer>-<index>`) instead; with `fill`, the names go to the first peers holding
 * fewer than `fill` (see `room`). A refusal is counted by its error code.
 */
async function register (names, concurrency, perPeer, fill) {
  let failed = 0
  const errors = {}
  const shares = perPeer !== undefined
    ? peers.map((_, i) => [`${perPeer}-${i}`])
    : fill !== undefined ? fillShares(names, fill) : roundRobin(names)
  await Promise.all(peers.map(async (peer, i) => {
    const mine = shares[i]
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < mine.length) {
        const name = mine[next++]
        await peer.requests.request(registry, { op: 'register', services: [{ name, addrs: [], incarnation: 1, seq: 0 }] }, registerResult)
          .catch(err => { failed++; errors[err?.code ?? 'UNKNOWN'] = (errors[err?.code ?? 'UNKNOWN'] ?? 0) + 1 })
      }
    }))
  }))
  return { failed, errors }
}

function roundRobin (names) {
  const shares = peers.map(() => [])
  for (const name of names) { shares[turn].push(name); turn = (turn + 1) % peers.length }
  return shares
}

/** Names each peer holds (registered with `fill`). */
const held = []

function fillShares (names, fill) {
  let next = 0
  const shares = peers.map((_, i) => {
    const take = Math.max(0, Math.min(fill - (held[i] ?? 0), names.length - next))
    held[i] = (held[i] ?? 0) + take
    next += take
    return names.slice(next - take, next)
  })
  if (next < names.length) throw new Error(`${names.length - next} names left over: start peers with room for them first (room)`)
  return shares
}

/** Starts `count` peers, `batch` at a time: hundreds of noise handshakes at once would time out on 2 cores. */
async function startPeers (count, batch = 25) {
  for (let i = 0; i < count; i += batch) peers.push(...await Promise.all(Array.from({ length: Math.min(batch, count - i) }, startPeer)))
}

const ops = {
  async start ({ count }) {
    await startPeers(count)
    return { peers: peers.length }
  },
  /** Starts peers until those here can take `names` more names at `fill` each. */
  async room ({ names, fill, batch }) {
    const free = peers.reduce((n, _, i) => n + fill - (held[i] ?? 0), 0)
    await startPeers(Math.ceil(Math.max(0, names - free) / fill), batch)
    return { peers: peers.length }
  },
  register: ({ names, concurrency, perPeer, fill }) => register(names, concurrency, perPeer, fill),
  /** One cheap request from every peer, `batch` at a time: opens each one's registry stream. */
  async open ({ batch = 25 }) {
    for (let i = 0; i < peers.length; i += batch) {
      await Promise.all(peers.slice(i, i + batch).map(async p => p.requests.request(registry, { op: 'lookup', name: 'none' }, lookupResult)))
    }
    return {}
  },
  async list () {
    const list = await peers[0].requests.request(registry, { op: 'list' }, listResult)
    const byStatus = {}
    for (const s of list.services) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1
    return { entries: list.services.length, byStatus }
  },
  counts: () => ({ heartbeats, heard, streams }),
  async stop () {
    await Promise.all(peers.map(p => { p.requests.close(); return p.p2p.stop() }))
    return {}
  }
}

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, ok: true, result: await ops[op](args ?? {}) })
  } catch (err) {
    process.send({ id, ok: false, error: String(err?.stack ?? err) })
  }
  if (op === 'stop') process.disconnect()
})
