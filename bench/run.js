#!/usr/bin/env node
// npm run bench [-- name ...]: runs the benchmarks (all, or those named) and prints a summary.
// Figures go to bench/results/<name>.json. Loopback only; every process is stopped by pid.
// `vs` (Serf and etcd beside gds) also runs, before it, the gds benches it compares with
// (VS_GDS=kill9,cold narrows them; VS_GDS= none), so both sides come from the same run.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cleanup } from './lib.js'
import { GDS_BENCHES } from './vs.js'

const ALL = ['kill9', 'sigstop', 'peer-verdicts', 'http-compat', 'fanout', 'rpc', 'register', 'heartbeat', 'cold', 'gossip-cost', 'gossip-flood', 'member', 'registries', 'vs']
const asked = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL
const unknown = asked.filter(n => !ALL.includes(n))
if (unknown.length > 0) { console.error(`unknown bench: ${unknown.join(', ')} (have: ${ALL.join(', ')})`); process.exit(1) }
const vsGds = process.env.VS_GDS !== undefined ? process.env.VS_GDS.split(',').filter(Boolean) : GDS_BENCHES
const chosen = asked.includes('vs') ? [...new Set([...asked.filter(n => n !== 'vs'), ...vsGds, 'vs'])] : asked

mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const rows = []
try {
  for (const name of chosen) {
    process.stderr.write(`running ${name}...\n`)
    const { run } = await import(`./${name}.js`)
    const out = [await run(name === 'vs' ? { rows } : undefined)].flat()
    for (const r of out) {
      rows.push(r)
      writeFileSync(new URL(`./results/${r.name}.json`, import.meta.url), JSON.stringify({ ...r, at: new Date().toISOString() }, null, 2))
      console.log(JSON.stringify(r))
    }
  }
} finally {
  cleanup()
}
process.exit(0)
