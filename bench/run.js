#!/usr/bin/env node
// npm run bench [-- name ...]: runs the benchmarks (all, or those named), then prints how long
// each took and one table of issue 15's figures against their targets (bench/targets.js).
// Figures go to bench/results/<name>.json (scale also writes scale.svg). Loopback only; every
// process is stopped by pid. A bench that fails is reported and the others still run; the exit
// code is then 1.
// `vs` (Serf and etcd beside gds) also runs, before it, the gds benches it compares with
// (VS_GDS=kill9,cold narrows them; VS_GDS= none), so both sides come from the same run.
// Each bench's size has env defaults (TRIALS, ENTRIES, SCALE_STEPS...: see its run()).
// `quick` (npm run bench -- quick [name ...]) sets the defaults of QUICK below where the env does
// not: fewer trials and shorter windows, for a loaded machine; every figure is still measured,
// with fewer samples (a p99 of 25 samples is their max).
import { mkdirSync, writeFileSync } from 'node:fs'
import { cleanup, table } from './lib.js'
import { summaryLines } from './summary.js'
import { GDS_BENCHES } from './vs.js'

const QUICK = { TRIALS: '5', HUNG_TRIALS: '2', CALLS: '10000', WINDOW_S: '10', SIZES: '1,10000', SCALE_TRIALS: '2' }
const ALL = ['kill9', 'sigstop', 'peer-verdicts', 'http-compat', 'fanout', 'rpc', 'register', 'heartbeat', 'cold', 'gossip-cost', 'gossip-flood', 'member', 'registries', 'scale', 'vs']
const args = process.argv.slice(2)
if (args.includes('quick')) for (const [k, v] of Object.entries(QUICK)) process.env[k] ??= v
const named = args.filter(a => a !== 'quick')
const asked = named.length > 0 ? named : ALL
const unknown = asked.filter(n => !ALL.includes(n))
if (unknown.length > 0) { console.error(`unknown bench: ${unknown.join(', ')} (have: ${ALL.join(', ')})`); process.exit(1) }
const vsGds = process.env.VS_GDS !== undefined ? process.env.VS_GDS.split(',').filter(Boolean) : GDS_BENCHES
const chosen = asked.includes('vs') ? [...new Set([...asked.filter(n => n !== 'vs'), ...vsGds, 'vs'])] : asked

mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const rows = []
const failures = []
const took = []
const began = performance.now()
try {
  for (const name of chosen) {
    process.stderr.write(`running ${name}...\n`)
    const t0 = performance.now()
    try {
      const { run } = await import(`./${name}.js`)
      const out = [await run(name === 'vs' ? { rows } : undefined)].flat()
      for (const r of out) {
        rows.push(r)
        writeFileSync(new URL(`./results/${r.name}.json`, import.meta.url), JSON.stringify({ ...r, at: new Date().toISOString() }, null, 2))
        console.log(JSON.stringify(r))
      }
    } catch (err) {
      failures.push({ name, error: String(err?.message ?? err).split('\n')[0] })
      process.stderr.write(`${name} failed: ${err?.stack ?? err}\n`)
    }
    took.push([name, Math.round((performance.now() - t0) / 1000), failures.some(f => f.name === name) ? 'failed' : 'ok'])
  }
} finally {
  cleanup()
}
console.log('')
for (const line of table([['bench', 's', ''], ...took, ['all', Math.round((performance.now() - began) / 1000), '']])) console.log(line)
console.log('')
for (const line of summaryLines(rows, failures)) console.log(line)
process.exit(failures.length > 0 ? 1 : 0)
