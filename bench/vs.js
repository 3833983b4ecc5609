// gds beside its anchors, in one run so the comparison holds on a noisy machine: HashiCorp Serf
// (gossip membership: failure detection, user events, agent RSS) and etcd (leases, watches).
// run.js runs the gds benches these figures compare with first (kill9, fanout, heartbeat, cold)
// and hands their rows in; a ratio is gds / anchor (below 1: gds is faster or smaller).
// Loopback only, temp dirs, and every process stopped is one this file started, by pid.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { procStats } from './peer-pool.js'
import { stats, tempDir } from './lib.js'

/** The gds benches whose rows the anchors are compared with. */
export const GDS_BENCHES = ['kill9', 'fanout', 'heartbeat', 'cold']

const INSTALL = {
  serf: 'apt-get install serf',
  etcd: 'apt-get install etcd-server etcd-client',
  etcdctl: 'apt-get install etcd-client'
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const has = bin => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0
const rssMB = pid => Math.round(procStats(pid).rssBytes / 2 ** 20 * 10) / 10
// Two significant digits: gds beside Serf's seconds is a few thousandths, not 0.
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0) ? Number((a / b).toPrecision(2)) : null

/** A free loopback port (the anchors take no port 0); the tiny race with other users is accepted. */
async function freePort () {
  const s = createServer()
  await new Promise(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise(resolve => s.close(resolve))
  return port
}

/** Polls `check` every 20 ms until it returns a value or the deadline passes. */
async function until (check, label, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`${label}: timed out after ${timeoutMs} ms`)
    await sleep(20)
  }
}

function started () {
  const children = []
  return {
    spawn (cmd, args, opts = {}) {
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts })
      child.stderr?.on('data', () => {})
      children.push(child)
      return child
    },
    async stopAll () {
      await Promise.all(children.map(c => new Promise(resolve => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve()
        c.once('exit', resolve)
        c.kill('SIGKILL')
      })))
    }
  }
}

/**
 * Serf: `agents` agents on loopback, default (LAN) timings. Every agent's event handler stamps what
 * it saw into its own file, so the time "each member sees it" is read from the member itself.
 */
async function serf ({ agents = Number(process.env.SERF_AGENTS ?? 10), events = 10, kills = 3 } = {}) {
  const dir = tempDir()
  const handler = join(dir, 'handler.sh')
  // Milliseconds since the epoch, on the same clock this process reads with Date.now().
  writeFileSync(handler, '#!/bin/sh\necho "$SERF_EVENT $SERF_USER_EVENT $(date +%s%3N)" >> "$0.$SERF_SELF_NAME"\n')
  chmodSync(handler, 0o755)
  const procs = started()
  try {
    const nodes = []
    for (let i = 0; i < agents; i++) {
      const bind = await freePort(); const rpc = await freePort()
      const args = ['agent', `-node=n${i}`, `-bind=127.0.0.1:${bind}`, `-rpc-addr=127.0.0.1:${rpc}`, `-event-handler=${handler}`, '-log-level=err']
      if (i > 0) args.push(`-join=127.0.0.1:${nodes[0].bind}`)
      nodes.push({ name: `n${i}`, bind, rpc, child: procs.spawn('serf', args) })
      if (i === 0) await until(() => serfMembers(nodes[0]).length > 0, 'serf seed', 10_000)
    }
    await until(() => serfMembers(nodes[0]).filter(m => m.status === 'alive').length === agents, 'serf join', 30_000)
    const seen = (node, line) => {
      const f = `${handler}.${node.name}`
      return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(l => l.startsWith(line)).map(l => Number(l.split(' ').at(-1))) : []
    }

    // A user event sent at agent 0 → each agent's handler ran.
    const event = []
    for (let e = 0; e < events; e++) {
      const t0 = Date.now()
      spawnSync('serf', ['event', `-rpc-addr=127.0.0.1:${nodes[0].rpc}`, '-coalesce=false', `ev${e}`])
      const times = await until(() => { const t = nodes.map(n => seen(n, `user ev${e} `)[0]); return t.every(Boolean) && t }, `serf event ${e}`, 15_000)
      event.push(...times.map(t => t - t0))
    }
    await sleep(5_000)
    const rss = nodes.map(n => rssMB(n.child.pid))

    // kill -9 of one agent → every other agent's handler saw member-failed.
    const failed = []
    for (let k = 0; k < kills; k++) {
      const victim = nodes.at(-1 - k)
      const others = nodes.slice(0, nodes.length - 1 - k)
      const before = others.map(n => seen(n, 'member-failed').length)
      const t0 = Date.now()
      victim.child.kill('SIGKILL')
      const times = await until(() => {
        const t = others.map((n, i) => seen(n, 'member-failed')[before[i]])
        return t.every(Boolean) && t
      }, `serf kill -9 ${victim.name}`, 60_000)
      failed.push(...times.map(t => t - t0))
    }
    return {
      agents,
      kill9: { what: `kill -9 of one agent → member-failed at each of the other ${agents - 1} (${kills} kills, ms)`, ...stats(failed) },
      event: { what: `a user event → every one of ${agents} agents' handlers (${events} events, ms; includes the \`serf event\` CLI)`, ...stats(event) },
      idleRss: { what: `RSS per agent after ${agents} joined and 5 s idle (MB)`, ...stats(rss) }
    }
  } finally {
    await procs.stopAll()
  }
}

function serfMembers (node) {
  const r = spawnSync('serf', ['members', `-rpc-addr=127.0.0.1:${node.rpc}`, '-format=json'], { encoding: 'utf8' })
  try { return JSON.parse(r.stdout).members ?? [] } catch { return [] }
}

/** etcd: one member on loopback, the etcd3 client in this process, etcdctl as the killed lease holder. */
async function etcd ({ leases = Number(process.env.ETCD_LEASES ?? 1000), watchers = 50, puts = 20, windowS = Number(process.env.WINDOW_S ?? 20), kills = 3 } = {}) {
  const { Etcd3 } = await import('etcd3')
  const dir = tempDir()
  const client = await freePort(); const peer = await freePort()
  const url = `http://127.0.0.1:${client}`
  const procs = started()
  const clients = []
  try {
    const server = procs.spawn('etcd', ['--name=bench', `--data-dir=${join(dir, 'data')}`, `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=bench=http://127.0.0.1:${peer}`, '--log-level=error'])
    const etc = new Etcd3({ hosts: url }); clients.push(etc)
    await until(() => etc.get('probe').then(() => true, () => false), 'etcd start', 30_000)

    // One put → each of `watchers` watchers, every watcher on a connection of its own.
    const put = []
    const arrivals = []
    for (let w = 0; w < watchers; w++) {
      const c = new Etcd3({ hosts: url }); clients.push(c)
      const watcher = await c.watch().key('bench/watched').create()
      watcher.on('put', kv => arrivals.push({ at: performance.now(), v: kv.value.toString() }))
    }
    for (let p = 0; p < puts; p++) {
      const from = arrivals.length
      const t0 = performance.now()
      await etc.put('bench/watched').value(String(p))
      await until(() => arrivals.length - from >= watchers, `etcd put ${p}`, 10_000)
      put.push(...arrivals.slice(from).map(a => a.at - t0))
      await sleep(50)
    }

    // `leases` leases kept alive at 1 Hz (TTL 3 s: etcd3 renews each at a third of its TTL).
    const held = []
    for (let l = 0; l < leases; l++) {
      const lease = etc.lease(3)
      await lease.put(`bench/lease/${l}`).value('x')
      held.push(lease)
    }
    await sleep(5_000)
    const s0 = procStats(server.pid); const c0 = process.cpuUsage(); const t0 = performance.now()
    await sleep(windowS * 1000)
    const s1 = procStats(server.pid); const c1 = process.cpuUsage(c0); const secs = (performance.now() - t0) / 1000
    const serverPct = Math.round((s1.userSec + s1.systemSec - s0.userSec - s0.systemSec) / secs * 1000) / 10
    const clientPct = Math.round((c1.user + c1.system) / 1e6 / secs * 1000) / 10
    const serverRss = Math.round(s1.rssBytes / 2 ** 20)
    await Promise.all(held.map(l => l.revoke().catch(() => {})))

    // A lease holder (etcdctl keep-alive) killed with -9 → its key deleted, seen by a watcher.
    const gone = []
    const ctl = args => spawnSync('etcdctl', [`--endpoints=${url}`, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } })
    const ttl = 2
    for (let k = 0; k < kills; k++) {
      const id = /lease ([0-9a-f]+) granted/.exec(ctl(['lease', 'grant', String(ttl)]).stdout)?.[1]
      if (!id) throw new Error('etcdctl lease grant failed')
      ctl(['put', '--lease', id, `bench/holder/${k}`, 'x'])
      const holder = procs.spawn('etcdctl', [`--endpoints=${url}`, 'lease', 'keep-alive', id], { env: { ...process.env, ETCDCTL_API: '3' } })
      await sleep(3_000)
      let deletedAt
      const watcher = await etc.watch().key(`bench/holder/${k}`).create()
      watcher.on('delete', () => { deletedAt ??= performance.now() })
      const t0 = performance.now()
      holder.kill('SIGKILL')
      await until(() => deletedAt, `etcd lease holder ${k}`, 30_000)
      gone.push(deletedAt - t0)
      await watcher.cancel()
    }
    return {
      watch: { what: `one put → each of ${watchers} watchers, one connection each (${puts} puts, ms)`, ...stats(put) },
      keepalive: { what: `${leases} leases kept alive at 1 Hz over ${windowS} s: etcd server CPU (% of one core), etcd3 client CPU ${clientPct} %, server RSS ${serverRss} MiB`, cpuPct: serverPct, clientPct, serverRssMiB: serverRss },
      leaseKill: { what: `kill -9 of a lease holder (etcdctl keep-alive, TTL ${ttl} s) → its key deleted (${kills} kills, ms)`, ...stats(gone) }
    }
  } finally {
    for (const c of clients) c.close()
    await procs.stopAll()
  }
}

/** `rows`: what the gds benches of this run returned (run.js hands them in). */
export async function run ({ rows = [] } = {}) {
  const gds = name => rows.find(r => r.name === name)
  const skipped = []
  const missing = ['serf', 'etcd', 'etcdctl'].filter(b => !has(b))
  for (const b of missing) {
    skipped.push(`${b} not installed (${INSTALL[b]}): its column is skipped`)
    process.stderr.write(`vs: ${skipped.at(-1)}\n`)
  }
  const out = []
  if (!missing.includes('serf')) {
    const s = await serf()
    const kill = gds('kill9'); const fan = gds('fanout-gossip'); const idle = gds('idle-rss')
    out.push({
      name: 'vs-serf',
      what: `HashiCorp Serf, ${s.agents} agents on loopback, default LAN timings, beside gds's figures of this run; ratio = gds / serf`,
      kill9: { serf: s.kill9, gds: kill && { what: kill.what, median: kill.median, p99: kill.p99, max: kill.max }, ratioMedian: ratio(kill?.median, s.kill9.median), ratioMax: ratio(kill?.max, s.kill9.max) },
      event: { serf: s.event, gds: fan && { what: fan.what, median: fan.median, p99: fan.p99, max: fan.max }, ratioMedian: ratio(fan?.median, s.event.median), ratioP99: ratio(fan?.p99, s.event.p99) },
      idleRss: { serf: s.idleRss, gds: idle && { what: idle.what, service: idle.service, registry: idle.registry }, ratioService: ratio(idle?.service, s.idleRss.median) }
    })
  }
  if (!missing.includes('etcd') && !missing.includes('etcdctl')) {
    const e = await etcd()
    const hub = gds('fanout-hub'); const beat = gds('heartbeat'); const kill = gds('kill9')
    out.push({
      name: 'vs-etcd',
      what: 'etcd, one member on loopback, beside gds\'s figures of this run; ratio = gds / etcd',
      watch: { etcd: e.watch, gds: hub && { what: hub.what, median: hub.median, p99: hub.p99 }, ratioMedian: ratio(hub?.median, e.watch.median), ratioP99: ratio(hub?.p99, e.watch.p99) },
      keepalive: { etcd: e.keepalive, gds: beat && { what: beat.what, cpuPct: beat.cpuPct }, ratioCpu: ratio(beat?.cpuPct, e.keepalive.cpuPct) },
      leaseKill: { etcd: e.leaseKill, gds: kill && { what: kill.what, median: kill.median, max: kill.max }, ratioMedian: ratio(kill?.median, e.leaseKill.median) }
    })
  }
  if (out.length === 0) out.push({ name: 'vs', what: 'no anchor installed', skipped })
  else if (skipped.length > 0) out[0].skipped = skipped
  for (const line of summary(out)) process.stderr.write(`vs: ${line}\n`)
  return out
}

/** One line per compared figure: gds, the anchor, and their ratio ("-" where gds's bench did not run). */
function summary (out) {
  const f = v => v === undefined || v === null ? '-' : String(v)
  const lines = []
  for (const row of out) {
    const anchor = row.name.slice(3)
    for (const [figure, c] of Object.entries(row)) {
      if (typeof c !== 'object' || c === null || !(anchor in c)) continue
      for (const key of Object.keys(c).filter(k => k.startsWith('ratio'))) {
        const stat = key.slice(5).toLowerCase()
        const field = { service: 'service', cpu: 'cpuPct' }[stat] ?? stat
        const theirs = stat === 'service' ? c[anchor].median : c[anchor][field]
        lines.push(`${figure} ${stat}: gds ${f(c.gds?.[field])} / ${anchor} ${f(theirs)} = ${f(c[key])}`)
      }
    }
  }
  return lines
}
