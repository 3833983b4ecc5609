// A hostile member for the cluster tests (issue 13, test 4): a real gds node (the project's own
// stack, from dist/) that registers like any service, then keeps gossiping forged suspicions
// about a healthy provider at whatever version it holds of it. Prints JSON lines like
// `gds node start --json`: its node's events, and {"event":"forged","count":N} after each burst.
// Usage: node test/helpers/hostile-peer.mjs REGISTRY_ADDR TARGET_NAME EVERY_MS
import { startNode, defineService } from '../../dist/index.js'
import { encodeFrame } from '../../dist/node/framing.js'
import { CATALOG_TOPIC } from '../../dist/node/protocols.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [registry, target, everyMs] = process.argv.slice(2)
const node = await startNode({
  services: [defineService({ name: 'hostile', methods: {} })],
  registry,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  dataDir: mkdtempSync(join(tmpdir(), 'gds-hostile-'))
})
node.on('event', e => { process.stdout.write(JSON.stringify(e) + '\n') })
process.stdout.write(JSON.stringify({ event: 'listening', peerId: node.peerId, addrs: node.addrs, ts: Date.now() }) + '\n')
let count = 0
// Bounded: at most 10,000 bursts (far beyond any test), then it only idles.
const timer = setInterval(() => {
  if (count >= 10_000) return
  for (const r of node.catalog.providersOf(target)) {
    if (r.status !== 'up') continue
    void node.p2p.services.pubsub.publish(CATALOG_TOPIC, encodeFrame({ kind: 'suspect', peerId: r.peerId, incarnation: r.incarnation, seq: r.seq })).catch(() => {})
    count++
  }
  process.stdout.write(JSON.stringify({ event: 'forged', count, ts: Date.now() }) + '\n')
}, Number(everyMs))
const stop = () => { clearInterval(timer); void node.stop().finally(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
