// What the whole catalogue costs a node that requires nothing (issue 13): its RSS and CPU with
// 1 (itself), 1,000 and 10,000 entries in the cluster. Registry and node in their own processes; the
// entries are registered by lightweight peers (bench/peers.js) that answer heartbeats, so
// nothing goes down by accident. The node learns them from the registry's snapshot.
import { execFile } from 'node:child_process'
import { MAX_NAMES_PER_PEER } from '../dist/node/protocols.js'
import { BIN, ENV, loopback, startNode, tempDir } from './lib.js'
import { procStats, startPeers, startRegistry } from './peer-pool.js'

/** Seconds of steady state over which the node's CPU is measured. */
const WINDOW_S = Number(process.env.WINDOW_S ?? 10)

/** A one-shot gds command: its exit code and stdout. */
function runCli (args) {
  return new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args], { env: ENV, timeout: 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      resolve({ code: err === null ? 0 : (err.code ?? 1), stdout })
    })
  })
}

async function one (entries) {
  const registry = await startRegistry()
  let pool
  let node
  try {
    // The node itself is one entry: the others are registered by the peers.
    const names = Array.from({ length: Math.max(0, entries - 1) }, (_, i) => `svc-${i}`)
    if (names.length > 0) {
      // Slack below the per-peer cap: names are dealt round-robin, so shares differ by one or two.
      pool = await startPeers(registry.addr, Math.ceil(names.length / (MAX_NAMES_PER_PEER - 2)) + 2, 2)
      const out = await pool.all('register', c => ({ names: names.filter((_, j) => j % 2 === c), concurrency: 8 }))
      const failed = out.reduce((n, o) => n + o.failed, 0)
      if (failed > 0) throw new Error(`${failed} registrations failed`)
    }
    const started = performance.now()
    node = startNode(['--role', 'service', '--name', 'idle', '--registry', registry.addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()])
    const addr = loopback(await node.waitFor(e => e.event === 'listening', 'node listening'))
    await node.waitFor(e => e.event === 'registered', 'node registered', 60_000)
    // Whole when its own view lists every entry (bounded: 300 tries, 60 s).
    let held = 0
    for (let i = 0; i < 300 && held < entries && performance.now() - started < 60_000; i++) {
      const r = await runCli(['status', '--json', '--peer', addr])
      if (r.code === 0) held = JSON.parse(r.stdout).services.length
      if (held < entries) await new Promise(resolve => setTimeout(resolve, 200))
    }
    const wholeMs = Math.round(performance.now() - started)
    // Let the snapshot's garbage go before measuring the steady state.
    await new Promise(resolve => setTimeout(resolve, 3_000))
    const before = procStats(node.child.pid)
    await new Promise(resolve => setTimeout(resolve, WINDOW_S * 1000))
    const after = procStats(node.child.pid)
    const cpuPct = Math.round((after.userSec + after.systemSec - before.userSec - before.systemSec) / WINDOW_S * 1000) / 10
    return { entries, held, wholeMs, rssMiB: Math.round(after.rssBytes / 1048576), cpuPct }
  } finally {
    await node?.stop()
    await pool?.stop()
    await registry.stop()
  }
}

export async function run ({ sizes = (process.env.SIZES ?? '1,1000,10000').split(',').map(Number) } = {}) {
  const rows = []
  for (const n of sizes) rows.push(await one(n))
  return {
    name: 'member',
    what: `a node that requires nothing, holding the whole catalogue: entries held, ms from its start until "status --peer" (polled; about 1 s a run) shows them all (the registry's snapshot), its RSS, and its CPU over ${WINDOW_S} s of steady state (registry heartbeats, no changes); registry and node in their own processes`,
    rows
  }
}
