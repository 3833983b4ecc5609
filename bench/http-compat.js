// A service of the Go registry's HTTP API killed (kill -9) or hung (SIGSTOP) → the patch that
// removes it reaches its dependent (ms). Real processes: a gds registry with --http-compat at the
// default timings, the fake Go services of test/helpers/go-service.mjs. The original Go registry
// took 0.4–2.9 s for a kill on loopback.
import { join } from 'node:path'
import { ROOT, startNode, startProcess, stats, tempDir } from './lib.js'

const GO_SERVICE = join(ROOT, 'test', 'helpers', 'go-service.mjs')

export async function run ({ trials = Number(process.env.TRIALS ?? 20), hungTrials = Number(process.env.HUNG_TRIALS ?? 5) } = {}) {
  const procs = []
  const go = (name, url, requires = []) => {
    const p = startProcess([GO_SERVICE, '--name', name, '--registry', url, ...requires.flatMap(r => ['--requires', r])]); procs.push(p)
    return p
  }
  try {
    const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir(), '--http-compat', '127.0.0.1:0']); procs.push(reg)
    const { url } = await reg.waitFor(e => e.event === 'serving' && e.service === 'http-compat', 'registry serving the Go API')
    const dependent = go('Grading Service', url, ['Log Service'])
    await dependent.waitFor(e => e.event === 'registered', 'dependent registered')
    const measure = async (signal, n) => {
      const out = []
      for (let t = 0; t < n; t++) {
        const mark = dependent.mark()
        const log = go('Log Service', url)
        const { url: logUrl } = await log.waitFor(e => e.event === 'listening', 'log listening')
        await dependent.waitFor(e => e.event === 'patch' && e.patch.Added.some(x => x.URL === logUrl), 'log added', 20_000, mark)
        // Past the first heartbeat, as a service that has been running a while.
        await new Promise(resolve => setTimeout(resolve, 1_200))
        const after = dependent.mark()
        const at = Date.now()
        log.child.kill(signal)
        const removed = await dependent.waitFor(e => e.event === 'patch' && e.patch.Removed.some(x => x.URL === logUrl), 'log removed', 20_000, after)
        out.push(removed.at - at)
        log.child.kill('SIGKILL')
        await log.exited
      }
      return out
    }
    const killed = await measure('SIGKILL', trials)
    const hung = await measure('SIGSTOP', hungTrials)
    return {
      name: 'http-compat',
      what: `Go HTTP service killed (kill -9) → the Removed patch at its HTTP dependent (ms), ${trials} trials; default timings (heartbeat 1000 ms, timeout 500 ms, threshold 2)`,
      trials,
      ...stats(killed),
      hung: { what: `SIGSTOP (hung, no connection closes) → Removed patch (ms), ${hungTrials} trials`, ...stats(hung) },
      target: 'below the original Go registry (0.4–2.9 s for a kill on loopback)'
    }
  } finally {
    await Promise.all(procs.map(p => p.stop()))
  }
}
