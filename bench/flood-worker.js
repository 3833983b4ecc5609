// A child process of bench/gossip-flood.js: one registered service, "flooder", linked to PEERS.
// Asked to announce (over IPC), it registers again: its registration's announcement then reaches
// the peers it is linked to. Sent its own announcement as a neighbour heard it, it republishes it
// with ever higher seq as fast as it can for `ms`, then reports how many it sent and stops.
import { multiaddr } from '@multiformats/multiaddr'
import { serviceNode } from './inproc.js'
import { cleanup } from './lib.js'

const TOPIC = 'gds/catalog/1'
const node = await serviceNode({ addrs: [process.env.REGISTRY] }, 'flooder')
for (const a of JSON.parse(process.env.PEERS)) await node.p2p.dial(multiaddr(a)).catch(() => {})
process.send({ peerId: node.peerId })
process.on('message', async ({ announce, announcement, ms }) => {
  if (announce) { node.registrySession.reregister(); return }
  const message = JSON.parse(announcement)
  const record = message.records[0]
  const enc = new TextEncoder()
  const started = Date.now()
  let sent = 0
  while (Date.now() - started < ms) {
    const batch = []
    for (let i = 0; i < 50; i++) {
      sent++
      batch.push(node.p2p.services.pubsub.publish(TOPIC, enc.encode(JSON.stringify({ ...message, records: [{ ...record, seq: record.seq + sent }] }))))
    }
    await Promise.allSettled(batch)
    await new Promise(resolve => setImmediate(resolve))
  }
  process.send({ sent, ms: Date.now() - started })
  await node.stop().catch(() => {})
  cleanup()
  process.exit(0)
})
