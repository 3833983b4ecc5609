// The registry from 1,000 to 10,000 services: one registry process, lightweight peers in child
// processes (bench/peers.js) each holding SCALE_NAMES_PER_PEER names and answering every probe at
// 1 Hz. The catalogue grows in bands of at most 1,000 registrations to each step of SCALE_STEPS;
// at each step: the registry's CPU and RSS with everyone heartbeating, `gds status` from a cold
// process and its --json size, and one change → 50 dependents (bench/fanout-worker.js processes).
// Writes bench/results/scale.svg (each cost against the number of services) and prints how each
// cost grows from the first step to the last.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BIN, ENV, startNode, startProcess, stats, table, tempDir } from './lib.js'
import { procStats, startPeers, startRegistry } from './peer-pool.js'
import { plotSvg } from './plot.js'

const FANOUT_WORKER = fileURLToPath(new URL('./fanout-worker.js', import.meta.url))
const RESULTS = new URL('./results/', import.meta.url)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const sum = xs => xs.reduce((a, b) => a + b, 0)

/** `gds status --json` in a cold process: wall time (ms) and what it printed, or its error (under --json, on stdout). */
function status (addr) {
  const t = performance.now()
  const r = spawnSync(process.execPath, [BIN, 'status', '--json', '--timeout', '20000', '--registry', addr], { env: ENV, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 })
  if (r.status !== 0) return { error: `exit ${r.status}: ${(r.stdout + r.stderr).slice(-300).trim()}` }
  return { ms: performance.now() - t, stdout: r.stdout }
}

/** `workers` processes of `perWorker` dependents (each requires `log`), registered. */
async function startDependents (registry, { workers, perWorker }) {
  const procs = Array.from({ length: workers }, (_, w) => startProcess([FANOUT_WORKER], { REGISTRY: registry.addr, FIRST: String(w * perWorker), COUNT: String(perWorker) }))
  const deps = procs.flatMap((proc, w) => Array.from({ length: perWorker }, (_, i) => ({ proc, dep: w * perWorker + i })))
  try {
    for (const d of deps) await d.proc.waitFor(e => e.dep === d.dep && e.event === 'registered', `dependent ${d.dep} registered`, 300_000)
  } catch (err) {
    await Promise.all(procs.map(p => p.stop()))
    const seen = deps.map(d => d.proc.events.filter(e => e.dep === d.dep).length)
    throw new Error(`${err.message}; events per dependent: ${seen.join(' ')}`)
  }
  return { procs, deps, stop: () => Promise.all(procs.map(p => p.stop())) }
}

/**
 * One change → the dependents: a `log` provider process joins, then leaves gracefully; the
 * latency is the registry's verdict (provider-up, provider-down) → each dependent's own event.
 */
async function fanout (registry, { procs, deps }, trials) {
  const providers = []
  try {
    const latencies = []
    // Dependents not told within 30 s of a change: counted and described, not waited for longer.
    const notTold = []
    // Trial 0 warms up (JIT, first links) and is not counted.
    for (let t = 0; t <= trials; t++) {
      const change = async (event, act) => {
        const marks = procs.map(p => p.mark())
        const regMark = registry.mark()
        const id = await act()
        const verdict = await registry.waitFor(e => e.event === event && e.peerId === id, `registry: ${event}`, 30_000, regMark)
        // A dependent that lost the registry under load and came back learns of a leave from its
        // new snapshot: no provider-down then, but `degraded` (log, its one provider, is gone).
        const isTold = e => (e.event === event && e.peerId === id) || (event === 'provider-down' && e.event === 'degraded')
        const deadline = Date.now() + 30_000
        for (const d of deps) {
          const from = marks[procs.indexOf(d.proc)]
          const told = await d.proc.waitFor(e => e.dep === d.dep && isTold(e), `${event} at dependent ${d.dep}`, Math.max(0, deadline - Date.now()), from).catch(() => {
            const seen = d.proc.events.slice(from).filter(e => e.dep === d.dep).map(e => e.event)
            notTold.push(`${event} at dependent ${d.dep}, trial ${t}; it saw ${JSON.stringify(seen.slice(-4))}`)
          })
          if (told !== undefined && t > 0) latencies.push(told.ts - verdict.ts)
        }
        return id
      }
      const id = await change('provider-up', async () => {
        providers.push(startNode(['--role', 'service', '--name', 'log', '--registry', registry.addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()]))
        return (await providers.at(-1).waitFor(e => e.event === 'listening', 'provider')).peerId
      })
      await change('provider-down', async () => { providers.at(-1).child.kill('SIGINT'); return id })
      await providers.at(-1).stop()
    }
    return { ...stats(latencies), notTold: notTold.length, notToldFirst: notTold.slice(0, 3) }
  } finally {
    await Promise.all(providers.map(p => p.stop()))
  }
}

/** What the registry costs with `services` entries, everyone heartbeating. */
async function measure (registry, pool, dependents, services, { windowS, statusRuns, trials }) {
  await sleep(3_000) // the last band's patches and first probes settle
  const heartbeats = async () => sum((await pool.all('counts')).map(c => c.heartbeats))
  const heartbeats0 = await heartbeats(); const before = procStats(registry.pid); const t0 = performance.now()
  await sleep(windowS * 1000)
  const after = procStats(registry.pid); const secs = (performance.now() - t0) / 1000
  const heartbeatsPerSec = Math.round((await heartbeats() - heartbeats0) / secs)
  const cpuPct = Math.round((after.userSec + after.systemSec - before.userSec - before.systemSec) / secs * 1000) / 10
  // The first run warms the disk cache, as cold.js does; each run is still a new process.
  const all = Array.from({ length: statusRuns + 1 }, () => status(registry.addr)).slice(1)
  // A failed run is reported, not timed; with none left the figures are absent, never guessed.
  const runs = all.filter(r => r.error === undefined)
  const listed = runs.length > 0 ? JSON.parse(runs.at(-1).stdout).services : []
  const byStatus = {}
  for (const s of listed) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1
  return {
    services,
    cpuPct,
    rssMiB: Math.round(after.rssBytes / 2 ** 20),
    heartbeatsPerSec,
    statusMs: runs.length > 0 ? stats(runs.map(r => r.ms)).median : null,
    statusJsonKiB: runs.length > 0 ? Math.round(Buffer.byteLength(runs.at(-1).stdout) / 1024) : null,
    statusErrors: all.filter(r => r.error !== undefined).map(r => r.error),
    catalogue: { entries: listed.length, byStatus },
    fanout: await fanout(registry, dependents, trials)
  }
}

/** The costs plotted and tabled: a label, its unit, and how to read it from a step. */
const COSTS = [
  { title: 'registrations/s, last band', unit: '/s', read: s => s.bandPerSec },
  { title: 'registry CPU, all at 1 Hz', unit: '% of a core', read: s => s.cpuPct },
  { title: 'registry RSS', unit: 'MiB', read: s => s.rssMiB },
  { title: 'gds status, cold', unit: 'ms', read: s => s.statusMs === null ? null : Math.round(s.statusMs) },
  { title: 'gds status --json', unit: 'KiB', read: s => s.statusJsonKiB },
  { title: 'one change → 50 dependents', unit: 'ms', lines: { p50: s => s.fanout.median, p99: s => s.fanout.p99 } }
]

const growth = (a, b) => Number.isFinite(a) && Number.isFinite(b) && a > 0 ? `×${Math.round(b / a * 10) / 10}` : '-'

/** The table scale prints: each cost at every step, and last ÷ first. */
function growthTable (steps) {
  const rows = COSTS.flatMap(c => Object.entries(c.lines ?? { '': c.read }).map(([k, read]) => [`${c.title}${k ? ` ${k}` : ''} (${c.unit})`, ...steps.map(read), growth(read(steps[0]), read(steps.at(-1)))]))
  return table([['cost', ...steps.map(s => `at ${s.services}`), 'growth'], ...rows])
}

function writePlot (steps, namesPerPeer) {
  mkdirSync(RESULTS, { recursive: true })
  const panels = COSTS.map(c => ({ title: c.title, unit: c.unit, lines: Object.entries(c.lines ?? { [c.title]: c.read }).map(([name, read]) => ({ name, ys: steps.map(read) })) }))
  const svg = plotSvg({ heading: `gds registry, 1 process: each cost against the catalogue size (${namesPerPeer} names per peer, heartbeats at 1 Hz)`, xLabel: 'services', xs: steps.map(s => s.services), panels })
  writeFileSync(new URL('./scale.svg', RESULTS), svg)
}

export async function run ({
  steps = (process.env.SCALE_STEPS ?? '1000,2500,5000,10000').split(',').map(Number),
  namesPerPeer = Number(process.env.SCALE_NAMES_PER_PEER ?? 4),
  // 2 processes × 25 handshakes at a time stay under the registry's 64 pending upgrades per host.
  processes = Number(process.env.SCALE_PROCS ?? 2),
  // Fewer handshakes at a time than register.js: this registry is busy probing the peers already there.
  batch = Number(process.env.SCALE_BATCH ?? 10),
  concurrency = Number(process.env.CONCURRENCY ?? 8),
  windowS = Number(process.env.SCALE_WINDOW_S ?? 10),
  statusRuns = Number(process.env.SCALE_STATUS_RUNS ?? 3),
  trials = Number(process.env.SCALE_TRIALS ?? 3),
  beats = process.env.SCALE_BEATS ?? '--heartbeat-interval 1000 --heartbeat-timeout 900 --failure-threshold 3'
} = {}) {
  // Beats at 1 Hz; the default 500 ms timeout and threshold 2 would, on 2 shared cores, turn
  // stalled event loops into false verdicts, and their refutations into load (as in fanout.js).
  // The default --max-entries is 10,000: room above the largest step for the dependents and providers.
  const registry = await startRegistry([...beats.split(' ').filter(Boolean), '--max-entries', String(Math.max(...steps) + 100)])
  let pool
  let dependents
  try {
    // The dependents are there from the start, as in a cluster: every registration reaches them.
    dependents = await startDependents(registry, { workers: 5, perWorker: 10 })
    pool = await startPeers(registry.addr, 0, processes)
    const bands = []
    const out = []
    let failed = 0
    let registered = 0
    let peers = 0
    for (const step of steps) {
      // Bands of 1,000, the last one cut at the step; each name goes to a peer with room.
      while (registered < step) {
        const names = Array.from({ length: Math.min(1000, step - registered) }, (_, i) => `svc-${registered + i}`)
        const share = c => names.filter((_, j) => j % processes === c)
        peers = sum((await pool.all('room', c => ({ names: share(c).length, fill: namesPerPeer, batch }))).map(r => r.peers))
        const t0 = performance.now()
        const res = await pool.all('register', c => ({ names: share(c), concurrency, fill: namesPerPeer }))
        bands.push({ from: registered, to: registered + names.length, perSec: Math.round(names.length / ((performance.now() - t0) / 1000)) })
        failed += sum(res.map(r => r.failed))
        registered += names.length
      }
      process.stderr.write(`scale: ${step} services on ${peers} peers registered, measuring\n`)
      out.push({ peers, bandPerSec: bands.at(-1).perSec, ...await measure(registry, pool, dependents, step, { windowS, statusRuns, trials }) })
    }
    writePlot(out, namesPerPeer)
    for (const line of growthTable(out)) console.log(line)
    for (const s of out.filter(s => s.fanout.notTold > 0)) console.log(`at ${s.services}: ${s.fanout.notTold} dependents not told within 30 s, e.g. ${s.fanout.notToldFirst[0]}`)
    return {
      name: 'scale',
      what: `one registry process, ${steps.join(' / ')} services (${namesPerPeer} names per lightweight peer, ${processes} peer processes, every peer answering probes at 1 Hz; 50 dependents besides, from the start): registrations/s per band (≤ 1,000 entries, ${concurrency} in flight per peer), registry CPU (% of one core, ${windowS} s window) and RSS, gds status --json from a cold process (median of ${statusRuns}) and its size, one change → 50 dependents (registry's verdict → each told, joins and graceful leaves, ${trials} trials, ms); plot in bench/results/scale.svg`,
      namesPerPeer,
      bands,
      failed,
      steps: out
    }
  } finally {
    await pool?.stop()
    await dependents?.stop()
    await registry.stop()
  }
}
