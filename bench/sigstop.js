// A hung provider (SIGSTOP) → dependents told, at default settings (1000/500/2).
import { startNode, stats, tempDir, loopback } from './lib.js'

export async function run ({ trials = Number(process.env.TRIALS ?? 8) } = {}) {
  const nodes = []
  try {
    const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); nodes.push(reg)
    const addr = loopback(await reg.waitFor(e => e.event === 'listening', 'registry'))
    const dep = startNode(['--role', 'service', '--name', 'dep', '--requires', 'log', '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); nodes.push(dep)
    const log = startNode(['--role', 'service', '--name', 'log', '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); nodes.push(log)
    const id = (await log.waitFor(e => e.event === 'listening', 'log')).peerId
    await dep.waitFor(e => e.event === 'provider-up' && e.peerId === id, 'up')
    const latencies = []
    for (let t = 0; t < trials; t++) {
      const m = dep.mark()
      // Land the stop at a random point of the heartbeat cycle.
      await new Promise(resolve => setTimeout(resolve, Math.random() * 1000))
      const stoppedAt = Date.now()
      log.child.kill('SIGSTOP')
      try {
        const down = await dep.waitFor(e => e.event === 'provider-down' && e.peerId === id, 'down', 20_000, m)
        latencies.push(down.ts - stoppedAt)
      } finally {
        log.child.kill('SIGCONT')
      }
      await dep.waitFor(e => e.event === 'provider-up' && e.peerId === id, 'up again', 20_000, m)
    }
    return { name: 'sigstop', what: 'SIGSTOP of a provider → provider-down at its dependent (ms), default timings', trials, ...stats(latencies), target: '≤ 2500 ms' }
  } finally {
    await Promise.all(nodes.map(n => n.stop()))
  }
}
