// `gds status` end to end from a cold start, and an idle node's memory.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { BIN, ENV, startNode, stats, tempDir, loopback } from './lib.js'

function timeCli (args) {
  const t = performance.now()
  const r = spawnSync(process.execPath, [BIN, ...args], { env: ENV, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`gds ${args.join(' ')} failed: ${r.stderr}`)
  return performance.now() - t
}

const kb = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1])
const rss = pid => kb(pid, 'VmRSS') / 1024
// RSS counts the pages of the node binary a process touched (shared by every node process on
// the host; a bare `node` has ~34 MB of them): the private part is what one more node costs.
const privateMb = pid => Math.round(kb(pid, 'RssAnon') / 1024)

// RSS is read twice: 10 s after start (start-up garbage not yet returned) and after 30 s idle,
// once V8's memory reducer has run: the second is the idle figure.
export async function run ({ runs = Number(process.env.RUNS ?? 10), idleMs = Number(process.env.IDLE_MS ?? 30_000) } = {}) {
  const reg = startNode(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()])
  const nodes = [reg]
  try {
    const addr = loopback(await reg.waitFor(e => e.event === 'listening', 'registry'))
    for (const name of ['log', 'grading', 'webui']) {
      const s = startNode(['--role', 'service', '--name', name, '--registry', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', tempDir()])
      nodes.push(s)
      await s.waitFor(e => e.event === 'registered', name)
    }
    timeCli(['status', '--registry', addr])
    const status = Array.from({ length: runs }, () => timeCli(['status', '--registry', addr]))
    const help = Array.from({ length: 5 }, () => timeCli(['--help']))
    const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
    await sleep(10_000)
    const early = { registry: Math.round(rss(reg.child.pid)), service: Math.round(rss(nodes[1].child.pid)) }
    await sleep(Math.max(0, idleMs - 10_000))
    const idle = { registry: Math.round(rss(reg.child.pid)), service: Math.round(rss(nodes[1].child.pid)), privateRegistry: privateMb(reg.child.pid), privateService: privateMb(nodes[1].child.pid) }
    return [
      { name: 'status-cold', what: `gds status end to end, cold process (ms); gds --help median ${Math.round(stats(help).median)} ms`, ...stats(status), target: '≤ 200 ms' },
      { name: 'idle-rss', what: `RSS after ${idleMs / 1000} s idle (MB): registry with 3 services, and one service; at 10 s: registry ${early.registry}, service ${early.service}; private (anonymous: RSS without the node binary's and libraries' file pages): registry ${idle.privateRegistry}, service ${idle.privateService}`, ...idle, target: '≤ 55 MB' }
    ]
  } finally {
    await Promise.all(nodes.map(n => n.stop()))
  }
}
