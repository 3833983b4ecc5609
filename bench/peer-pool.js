// Lightweight service peers spread over child processes (bench/peers.js), and a registry
// process to point them at: what the registry benches share.
import { execFileSync, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ENV, loopback, startNode, tempDir } from './lib.js'

const WORKER = fileURLToPath(new URL('./peers.js', import.meta.url))

/** `gds node start --role registry` as its own process, on a free loopback port; PROFILE=dir writes its CPU profile there on exit. */
export async function startRegistry (args = []) {
  const nodeArgs = process.env.PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE}`] : []
  const node = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir(), ...args], nodeArgs)
  const listening = await node.waitFor(e => e.event === 'listening', 'registry listening')
  return { ...node, addr: loopback(listening), pid: node.child.pid }
}

/** `count` peers over `processes` children; `call(op, args)` runs an op in every child. */
export async function startPeers (registryAddr, count, processes) {
  const children = Array.from({ length: processes }, () => {
    const child = fork(WORKER, [], { env: { ...ENV, REGISTRY: registryAddr }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const waiting = new Map()
    let nextId = 0
    child.on('message', m => { const w = waiting.get(m.id); waiting.delete(m.id); if (m.ok) w?.resolve(m.result); else w?.reject(new Error(m.error)) })
    child.on('exit', () => { for (const w of waiting.values()) w.reject(new Error('peer process exited')) })
    return {
      child,
      call (op, args) {
        const id = ++nextId
        return new Promise((resolve, reject) => { waiting.set(id, { resolve, reject }); child.send({ id, op, args }) })
      }
    }
  })
  const pool = {
    children,
    /** The same op in every child, `argsFor(i)` giving each its arguments. */
    all: (op, argsFor = () => ({})) => Promise.all(children.map((c, i) => c.call(op, argsFor(i)))),
    async stop () {
      await Promise.all(children.map(async c => {
        if (c.child.exitCode !== null) return
        const exited = new Promise(resolve => c.child.once('exit', resolve))
        // Bounded: a child stopping thousands of peers may not answer; it is killed then.
        await Promise.race([c.call('stop').catch(() => {}), new Promise(resolve => setTimeout(resolve, 20_000))])
        const t = setTimeout(() => c.child.kill('SIGKILL'), 5000)
        await exited; clearTimeout(t)
      }))
    }
  }
  try {
    await pool.all('start', i => ({ count: Math.floor(count / processes) + (i < count % processes ? 1 : 0) }))
  } catch (err) {
    await pool.stop()
    throw err
  }
  return pool
}

/**
 * CPU of each process over a window of `windowS` seconds, as % of one core (user + system), and
 * its RSS at the end: the steady-state cost of a registry.
 */
export async function cpuOver (pids, windowS) {
  const before = pids.map(procStats)
  const started = performance.now()
  await new Promise(resolve => setTimeout(resolve, windowS * 1000))
  const after = pids.map(procStats)
  const secs = (performance.now() - started) / 1000
  const pct = sec => Math.round(sec / secs * 1000) / 10
  return pids.map((_, i) => {
    const userPct = pct(after[i].userSec - before[i].userSec)
    const systemPct = pct(after[i].systemSec - before[i].systemSec)
    return { cpuPct: Math.round((userPct + systemPct) * 10) / 10, userPct, systemPct, rssMiB: Math.round(after[i].rssBytes / 2 ** 20), secs }
  })
}

/** CPU seconds in user and kernel mode (utime, stime) and RSS of a process, from /proc. */
export function procStats (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
  return { userSec: Number(f[11]) / CLK_TCK, systemSec: Number(f[12]) / CLK_TCK, rssBytes: rss }
}

/** /proc counts CPU time in clock ticks. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
