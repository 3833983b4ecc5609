// Shared helpers for the benchmarks: real processes through bin/run.js, stats, temp dirs.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')
export const ENV = { ...process.env, NODE_ENV: 'production', OCLIF_SKIP_NEW_VERSION_CHECK: 'true' }
const dirs = []

export function tempDir () {
  const d = mkdtempSync(join(tmpdir(), 'gds-bench-'))
  dirs.push(d)
  return d
}

export function cleanup () {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

/** A `gds node start --json` child whose events can be awaited; `nodeArgs` go to node itself (e.g. --cpu-prof). */
export function startNode (args, nodeArgs = []) {
  return startProcess([...nodeArgs, BIN, 'node', 'start', '--json', ...args])
}

/** A node.js child that prints one JSON event per line on stdout; its events can be awaited. */
export function startProcess (argv, env = {}) {
  const child = spawn(process.execPath, argv, { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const events = []
  let wake = () => {}
  let stderr = ''
  createInterface({ input: child.stdout }).on('line', l => { try { events.push(JSON.parse(l)) } catch {} wake() })
  child.stderr.on('data', d => { stderr = (stderr + d).slice(-4000) })
  const exited = new Promise(resolve => child.on('exit', () => { wake(); resolve() }))
  return {
    child, events, exited,
    mark: () => events.length,
    async waitFor (match, label, timeoutMs = 20_000, from = 0) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const e = events.slice(from).find(match)
        if (e) return e
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label}: process exited: ${stderr.slice(-300)}`)
        if (Date.now() > deadline) throw new Error(`${label}: timed out`)
        await new Promise(resolve => { const t = setTimeout(resolve, 200); wake = () => { clearTimeout(t); resolve() } })
      }
    },
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGCONT'); child.kill('SIGINT')
      const t = setTimeout(() => child.kill('SIGKILL'), 8000)
      await exited; clearTimeout(t)
    }
  }
}

export function stats (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const q = p => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  const r = v => Math.round(v * 100) / 100
  return { n: s.length, median: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1] ?? NaN) }
}

export function loopback (e) {
  return e.addrs.find(a => a.startsWith('/ip4/127.0.0.1/'))
}

/** Rows of cells (the first the header) as aligned text lines; numbers are right-aligned. */
export function table (rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => String(r[c] ?? '').length)))
  const cell = (v, c) => typeof v === 'number' ? String(v).padStart(widths[c]) : String(v ?? '').padEnd(widths[c])
  return rows.map((r, i) => {
    const line = r.map(cell).join('  ').trimEnd()
    return i === 0 ? `${line}\n${widths.map(w => '-'.repeat(w)).join('  ')}` : line
  })
}
