// kill -9 of a provider → every dependent told (provider-down). Real processes, default timings.
// Trial 0 warms up and is not counted: it came while the dependents were still starting (their
// first heartbeats late, the registry busy with their registrations) and, alone, made the p99.
import { startNode, stats, tempDir, loopback } from './lib.js'

export async function run ({ dependents = Number(process.env.DEPENDENTS ?? 5), trials = Number(process.env.TRIALS ?? 15) } = {}) {
  const nodes = []
  try {
    const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]); nodes.push(reg)
    const addr = loopback(await reg.waitFor(e => e.event === 'listening', 'registry'))
    const deps = []
    for (let i = 0; i < dependents; i++) {
      const d = startNode(['--role', 'service', '--name', `dep${i}`, '--requires', 'log', '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()])
      nodes.push(d); deps.push(d)
    }
    for (const d of deps) await d.waitFor(e => e.event === 'registered', 'dependent registered', 60_000)
    const logDir = tempDir()
    const latencies = []
    const verdicts = [] // kill → the registry's provider-down
    const delivery = [] // the registry's provider-down → each dependent's
    for (let t = 0; t <= trials; t++) {
      const marks = deps.map(d => d.mark())
      const log = startNode(['--role', 'service', '--name', 'log', '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', logDir]); nodes.push(log)
      const id = (await log.waitFor(e => e.event === 'listening', 'log')).peerId
      await Promise.all(deps.map((d, i) => d.waitFor(e => e.event === 'provider-up' && e.peerId === id, 'up', 20_000, marks[i])))
      const after = deps.map(d => d.mark())
      const regMark = reg.mark()
      const killedAt = Date.now()
      log.child.kill('SIGKILL')
      const downs = await Promise.all(deps.map((d, i) => d.waitFor(e => e.event === 'provider-down' && e.peerId === id, 'down', 20_000, after[i])))
      const verdict = await reg.waitFor(e => e.event === 'provider-down' && e.peerId === id, 'registry verdict', 20_000, regMark)
      if (t > 0) {
        verdicts.push(verdict.ts - killedAt)
        for (const e of downs) { latencies.push(e.ts - killedAt); delivery.push(e.ts - verdict.ts) }
      }
      await log.exited
    }
    return { name: 'kill9', what: `kill -9 of a provider → provider-down at each of ${dependents} dependents (ms; ${trials} trials after a warm-up one)`, trials, ...stats(latencies), target: 'median ≤ 15 ms, p99 ≤ 40 ms', registryVerdict: stats(verdicts), verdictToDependent: stats(delivery) }
  } finally {
    await Promise.all(nodes.map(n => n.stop()))
  }
}
