import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NETNS_SCRIPT as SCRIPT, netnsUnavailable } from '../helpers/netns.js'

const why = netnsUnavailable()
if (why !== undefined) console.warn(`netns test skipped: ${why}`)

describe.skipIf(why !== undefined)('the compose topology across network namespaces (scripts/netns-cluster.sh)', () => {
  const env = { ...process.env, GDS_NETNS_PREFIX: `gt${process.pid % 10_000}`, NODE_ENV: 'production' }
  let dir = ''
  afterAll(async () => {
    if (dir !== '') {
      try { execFileSync(SCRIPT, ['down', dir], { env, stdio: 'ignore' }) } catch {}
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
    }
  })

  it('brings up registry, log, grading x2 and webui, each on its own host and IP, and they find each other', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-netns-'))
    const out = execFileSync(SCRIPT, ['up', dir], { env, encoding: 'utf8', timeout: 90_000 })
    expect(out).toMatch(/cluster up across namespaces/)
    const registry = (await readFile(join(dir, 'registry.addr'), 'utf8')).trim()
    expect(registry).toMatch(/^\/ip4\/10\.77\.0\.1\/tcp\/4001\/p2p\//)
    let services: any[] = []
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      services = JSON.parse(execFileSync(SCRIPT, ['exec', 'webui', 'gds', 'status', '--json', '--registry', registry], { env, encoding: 'utf8' })).services
      if (services.length === 4 && services.every(s => s.status === 'up')) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(services.map(s => `${s.name}@${s.addrs[0].split('/')[2]}`).sort()).toEqual(['grading@10.77.0.3', 'grading@10.77.0.4', 'log@10.77.0.2', 'webui@10.77.0.5'])
    const students = JSON.parse(execFileSync(SCRIPT, ['exec', 'log', 'gds', 'grades', 'list', '--json', '--registry', registry], { env, encoding: 'utf8' }))
    expect(students).toHaveLength(5)
    // Reachable from another host, with the token it made (and only with it).
    const token = (await readFile(join(dir, 'data', 'webui', 'http-token'), 'utf8')).trim()
    const get = (auth: string): string => execFileSync(SCRIPT, ['exec', 'registry', 'node', '-e',
      `fetch("http://10.77.0.5:8080/", { headers: { authorization: ${JSON.stringify(auth)} } }).then(async r => process.stdout.write(r.status + " " + await r.text()))`], { env, encoding: 'utf8' })
    expect(get('Bearer nope-nope-nope-nope')).toMatch(/^401 /)
    const page = get(`Bearer ${token}`)
    expect(page).toMatch(/^200 /)
    expect(page).toContain('Bob Squarepants')
  })
})
