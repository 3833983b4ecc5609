import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NETNS_SCRIPT, netnsUnavailable } from '../helpers/netns.js'

/**
 * A partition between the registry and one grading node, with every other link intact, on the
 * defaults a user gets. The cut is made by pointing each side's ARP entry for the other at a
 * MAC nobody has: frames go out and are silently lost, as on a broken link (no RST, no ICMP),
 * and no kernel module is needed. Healing deletes the entries.
 */
const why = netnsUnavailable()
if (why !== undefined) console.warn(`partition test skipped: ${why}`)

const NOWHERE = '02:00:00:00:00:01'
const REGISTRY_IP = '10.77.0.1'
/** ROLES order in netns-cluster.sh: log .2, grading-1 .3, grading-2 .4, webui .5. */
const CUT_IP = '10.77.0.3'

type Event = Record<string, any> & { event: string, ts: number }

describe.skipIf(why !== undefined)('a partition between the registry and one grading node (network namespaces)', () => {
  const prefix = `gp${process.pid % 10_000}`
  const env = { ...process.env, GDS_NETNS_PREFIX: prefix, NODE_ENV: 'production', ROLES: 'log:log grading-1:grading grading-2:grading webui:webui' }
  let dir = ''
  afterAll(async () => {
    if (dir !== '') {
      try { execFileSync(NETNS_SCRIPT, ['down', dir], { env, stdio: 'ignore' }) } catch {}
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
    }
  })

  const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: 'ignore' }) }
  const gds = (host: string, args: string[]): any =>
    JSON.parse(execFileSync(NETNS_SCRIPT, ['exec', host, 'gds', ...args], { env, encoding: 'utf8', timeout: 30_000 }))

  async function events (host: string): Promise<Event[]> {
    const text = await readFile(join(dir, `${host}.jsonl`), 'utf8')
    return text.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Event)
  }

  /** The first event of `host` at or after `since` that matches, polling its log until the deadline. */
  async function waitEvent (host: string, match: (e: Event) => boolean, label: string, since: number, timeoutMs: number): Promise<Event> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const seen = await events(host)
      const found = seen.find(e => e.ts >= since && match(e))
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`${host}: no ${label} within ${timeoutMs} ms; saw ${seen.filter(e => e.ts >= since).map(e => e.event).join(', ')}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  it('the cut node goes down in the catalogue and stays down while it still serves its peers; healed, it comes back once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-partition-'))
    execFileSync(NETNS_SCRIPT, ['up', dir], { env, encoding: 'utf8', timeout: 90_000 })
    const registry = (await readFile(join(dir, 'registry.addr'), 'utf8')).trim()
    const cutId: string = (await events('grading-1')).find(e => e.event === 'listening')!.peerId
    const about = (e: Event): boolean => e.peerId === cutId && /^provider-(up|suspect|down)$/.test(e.event)
    // Everyone up and the webui following both graders before the cut.
    await waitEvent('webui', e => e.event === 'provider-up' && e.peerId === cutId, 'grading-1 up', 0, 30_000)

    const cutAt = Date.now()
    ip('-n', `${prefix}-grading-1`, 'neigh', 'replace', REGISTRY_IP, 'lladdr', NOWHERE, 'dev', 'eth0', 'nud', 'permanent')
    ip('-n', `${prefix}-registry`, 'neigh', 'replace', CUT_IP, 'lladdr', NOWHERE, 'dev', 'eth0', 'nud', 'permanent')
    const down = await waitEvent('webui', e => e.event === 'provider-down' && e.peerId === cutId, 'grading-1 down', cutAt, 20_000)
    const lost = await waitEvent('grading-1', e => e.event === 'registry-lost', 'registry-lost', cutAt, 20_000)
    // Its direct peers still reach it: it answers with its own view, knowing the registry is away.
    const view = gds('webui', ['status', '--json', '--peer', `/ip4/${CUT_IP}/tcp/4001/p2p/${cutId}`])
    expect(view.source).toMatchObject({ peerId: cutId, role: 'peer', registryConnected: false })
    // The registry's verdict stood over gossip too: not one `up` at the webui since the down.
    const duringCut = (await events('webui')).filter(e => e.ts >= down.ts && about(e))
    expect(duringCut.map(e => e.event)).toEqual(['provider-down'])
    const catalogue = gds('registry', ['status', '--json', '--registry', registry])
    expect(catalogue.services.find((s: any) => s.peerId === cutId)?.status).toBe('down')

    const healAt = Date.now()
    ip('-n', `${prefix}-grading-1`, 'neigh', 'del', REGISTRY_IP, 'dev', 'eth0')
    ip('-n', `${prefix}-registry`, 'neigh', 'del', CUT_IP, 'dev', 'eth0')
    const up = await waitEvent('webui', e => e.event === 'provider-up' && e.peerId === cutId, 'grading-1 back up', healAt, 30_000)
    // Watch it for a while on the registry's own clock: ten seconds of acks after it came back
    // (the flaps came 1.5, 3.5 and 5.5 s after the heal, from probes on the stale connection).
    const deadline = Date.now() + 40_000
    for (;;) {
      const entry = gds('registry', ['status', '--json', '--registry', registry]).services.find((s: any) => s.peerId === cutId)
      if (entry?.status === 'up' && entry.lastSeen >= up.ts + 10_000) break
      if (Date.now() > deadline) throw new Error(`grading-1 not steadily up after the heal: ${JSON.stringify(entry)}`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const afterHeal = (await events('webui')).filter(e => e.ts >= healAt && about(e))
    const registryAfterHeal = (await events('registry')).filter(e => e.ts >= healAt && about(e))
    console.log(`partition figures: webui saw the cut node down ${down.ts - cutAt} ms after the cut, the cut node noticed in ${lost.ts - cutAt} ms (${lost.reason}); ` +
      `back up ${up.ts - healAt} ms after the heal, then ${afterHeal.length - 1} more status changes at the webui and ${registryAfterHeal.length - 1} at the registry`)
    expect(afterHeal.map(e => e.event)).toEqual(['provider-up'])
    expect(registryAfterHeal.map(e => e.event)).toEqual(['provider-up'])
  }, 180_000)
})
