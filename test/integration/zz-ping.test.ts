import { it } from 'vitest'
import { TestCluster } from '../helpers/nodes.js'
import { peerIdFromString } from '@libp2p/peer-id'
it('ping', async () => {
  const c = new TestCluster()
  const r = await c.registry()
  const nodes = []
  for (const n of ['log', 'a', 'b', 'c', 'd']) nodes.push(await c.service(r, n, n === 'log' ? [] : ['log']))
  const [a, b] = nodes
  await a.p2p.dial(b.p2p.getMultiaddrs()[0])
  for (let phase = 0; phase < 2; phase++) {
    if (phase === 1) { await r.stop(); console.log('PING registry stopped') }
    for (let i = 0; i < 8; i++) {
      const t0 = Date.now()
      try { const rtt = await a.p2p.services.ping.ping(peerIdFromString(b.peerId), { signal: AbortSignal.timeout(2000) }); console.log('PING ok', rtt, Date.now() - t0) } catch (e: any) { console.log('PING err', e.name, e.message, Date.now() - t0) }
      await new Promise(r => setTimeout(r, 200))
    }
  }
  await c.stopAll()
}, 60000)
