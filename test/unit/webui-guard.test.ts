import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clusterLine } from '../../src/cli/cluster.js'
import { formatEvent } from '../../src/cli/format.js'
import { members } from '../../src/commands/cluster/up.js'
import { createConfig } from '../../src/node/config.js'
import type { ProviderRecord } from '../../src/node/schemas.js'
import { applyWatch, emptyView } from '../../src/node/watch-view.js'
import { BOX, graphLayout } from '../../src/services/webui/cluster-view.js'
import { admit, crossOriginRefusal, isLoopback, presentedToken, type GuardPolicy, type GuardRequest } from '../../src/services/webui/guard.js'

const TOKEN = 'k3y-0f-the-p0rtal-abc'
const OPEN: GuardPolicy = { loopback: true, cookie: 'gds_token_8080' }
const LOCKED: GuardPolicy = { loopback: false, token: TOKEN, cookie: 'gds_token_8080' }
const post = (headers: GuardRequest['headers'], path = '/students/1/delete'): GuardRequest => ({ method: 'POST', path, headers: { host: '127.0.0.1:8080', ...headers } })

describe('the portal guard', () => {
  it('a form post from another site is refused, whichever header says so; the portal\'s own pass', () => {
    const refused = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' }, // another port of the same host is another origin
      { origin: 'http://evil.example' },
      { origin: 'http://127.0.0.1:9999' },
      { origin: 'null' },
      { referer: 'http://evil.example/page' },
      { origin: 'http://evil.example', referer: 'http://127.0.0.1:8080/students/1' }
    ]
    for (const h of refused) expect(admit(post(h), OPEN), JSON.stringify(h)).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/only be sent from the portal's own pages/) })
    const allowed = [
      { 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8080' },
      { 'sec-fetch-site': 'none' },
      { origin: 'http://127.0.0.1:8080' },
      { referer: 'http://127.0.0.1:8080/students/1' },
      {} // curl or a script: no browser sends a POST with none of these
    ]
    for (const h of allowed) expect(admit(post(h), OPEN), JSON.stringify(h)).toEqual({ ok: true })
    // Reading is never cross-origin-refused (a link from anywhere may open the portal).
    expect(crossOriginRefusal({ method: 'GET', path: '/', headers: { origin: 'http://evil.example', host: '127.0.0.1:8080' } })).toBeUndefined()
  })

  it('on loopback without a token, a Host that is not loopback is refused (DNS rebinding)', () => {
    for (const host of ['evil.example:8080', 'evil.example', '10.0.0.5:8080', '']) {
      expect(admit({ method: 'GET', path: '/', headers: { host } }, OPEN)).toMatchObject({ ok: false, status: 421 })
    }
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', '127.0.0.2']) {
      expect(admit({ method: 'GET', path: '/', headers: { host } }, OPEN)).toEqual({ ok: true })
    }
  })

  it('with a token, every request but the sign-in needs it, by bearer header or cookie', () => {
    const get = (headers: GuardRequest['headers'], path = '/'): GuardRequest => ({ method: 'GET', path, headers: { host: '10.0.0.5:8080', ...headers } })
    expect(admit(get({}), LOCKED)).toMatchObject({ ok: false, status: 401 })
    expect(admit(get({}, '/cluster/events'), LOCKED)).toMatchObject({ ok: false, status: 401 })
    expect(admit(get({ authorization: 'Bearer wrong-token-0000000' }), LOCKED)).toMatchObject({ ok: false, status: 401 })
    expect(admit(get({ cookie: `gds_token_9090=${TOKEN}` }), LOCKED)).toMatchObject({ ok: false, status: 401 })
    expect(admit(get({ authorization: `Bearer ${TOKEN}` }), LOCKED)).toEqual({ ok: true })
    expect(admit(get({ cookie: `a=b; gds_token_8080=${TOKEN}; c=d` }), LOCKED)).toEqual({ ok: true })
    expect(admit(get({}, '/login'), LOCKED)).toEqual({ ok: true })
    // A signed-in browser is still refused a post that another site makes it send.
    expect(admit(post({ host: '10.0.0.5:8080', cookie: `gds_token_8080=${TOKEN}`, origin: 'http://evil.example' }), LOCKED)).toMatchObject({ ok: false, status: 403 })
    // Any Host is fine beyond loopback: the token is what counts.
    expect(admit(get({ host: 'portal.example', authorization: `Bearer ${TOKEN}` }), LOCKED)).toEqual({ ok: true })
  })

  it('never throws on arbitrary headers, and refuses every token but the right one', () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }))
    fc.assert(fc.property(fc.constantFrom('GET', 'POST', 'PUT'), fc.string({ maxLength: 20 }), fc.record({ host: value, origin: value, referer: value, 'sec-fetch-site': value, cookie: value, authorization: value }), (method, path, headers) => {
      const v = admit({ method, path, headers }, LOCKED)
      if (v.ok && path !== '/login') expect(presentedToken({ method, path, headers }, LOCKED.cookie)).toBe(TOKEN)
      admit({ method, path, headers }, OPEN)
    }), { numRuns: 1_000 })
  })

  it('isLoopback: 127/8, ::1 and localhost only', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true)
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'evil.example', '']) expect(isLoopback(h), h).toBe(false)
  })
})

describe('web UI settings', () => {
  it('binds loopback by default; --http-host and --http-token are checked', () => {
    expect(createConfig({ role: 'webui' }, {}).httpHost).toBe('127.0.0.1')
    expect(createConfig({ role: 'webui', httpHost: '0.0.0.0', httpToken: TOKEN }, {})).toMatchObject({ httpHost: '0.0.0.0', httpToken: TOKEN })
    expect(() => createConfig({ role: 'webui', httpHost: 'not a host' }, {})).toThrow(/--http-host must be an IP address/)
    for (const t of ['short', 'has space in the token', 'semi;colon-in-the-token', `${'x'.repeat(257)}`]) {
      expect(() => createConfig({ role: 'webui', httpToken: t }, {}), t).toThrow(/--http-token must be 16 to 256 printable ASCII/)
    }
  })

  it('cluster up passes its --host to the web UI, and prints the sign-in link a member gives', () => {
    const web = members(1, '/tmp/c', 8080, '0.0.0.0').find(m => m.role === 'webui')
    expect(web?.args).toEqual(['--http-port', '8080', '--http-host', '0.0.0.0'])
    const login = 'http://127.0.0.1:8080/login?token=abc'
    const serving = { event: 'serving' as const, service: 'webui', url: 'http://127.0.0.1:8080/', login, ts: 0 }
    expect(clusterLine({ event: 'member-event', name: 'webui', detail: serving, ts: 0 }, { registry: true, dataDir: true })).toBe(`webui      sign in (once per browser): ${login}`)
    expect(formatEvent(serving).split('\n')).toEqual([expect.stringMatching(/ webui serving http:\/\/127\.0\.0\.1:8080\/$/), `    sign in (once per browser): ${login}`])
    const { login: _, ...plain } = serving
    expect(formatEvent(plain).split('\n')).toHaveLength(1)
    expect(clusterLine({ event: 'member-event', name: 'webui', detail: plain, ts: 0 }, { registry: true, dataDir: true })).toBeUndefined()
  })
})

describe('the cluster page graph', () => {
  const rec = (name: string, requires: string[]): ProviderRecord => ({ name, peerId: `12D3KooW${name}`, addrs: [], requires, version: '1', meta: {}, incarnation: 1, seq: 1, status: 'up' })

  /** True if the polyline passes through the inside of a box it does not start or end at. */
  function crossesABox (layout: ReturnType<typeof graphLayout>): string | undefined {
    for (const e of layout.edges) {
      for (let i = 1; i < e.points.length; i++) {
        const [[x1, y1], [x2, y2]] = [e.points[i - 1], e.points[i]]
        for (let s = 0; s <= 100; s++) {
          const x = x1 + (x2 - x1) * s / 100; const y = y1 + (y2 - y1) * s / 100
          for (const [name, b] of layout.boxes) {
            if (name === e.from || name === e.to) continue
            if (x > b.x && x < b.x + BOX.W && y > b.y && y < b.y + BOX.H) return `${e.from}->${e.to} under ${name}`
          }
        }
      }
      const first = e.points[0]; const last = e.points.at(-1)!
      expect(first[0]).toBe(layout.boxes.get(e.from)!.x)
      expect(last[0]).toBe(layout.boxes.get(e.to)!.x + BOX.W)
    }
    return undefined
  }

  it('webui → log does not run under the grading box (issue 16)', () => {
    const view = applyWatch(emptyView(), { type: 'snapshot', registry: { peerId: 'r', addrs: [] }, services: [rec('log', []), rec('grading', ['log']), rec('webui', ['grading', 'log'])], ts: 0 } as any)
    const layout = graphLayout(view)
    expect(layout.edges.map(e => `${e.from}->${e.to}`).sort()).toEqual(['grading->log', 'webui->grading', 'webui->log'])
    expect(crossesABox(layout)).toBeUndefined()
    const lowest = Math.max(...layout.edges.flatMap(e => e.points.map(p => p[1])))
    expect(layout.height).toBeGreaterThan(lowest)
  })

  it('no edge runs under a box, for any acyclic set of requirements', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f']
    // Each service may require only services before it: acyclic by construction.
    const deps = fc.tuple(...names.map((_, i) => fc.subarray(names.slice(0, i))))
    fc.assert(fc.property(deps, lists => {
      const view = applyWatch(emptyView(), { type: 'snapshot', registry: { peerId: 'r', addrs: [] }, services: names.map((n, i) => rec(n, lists[i])), ts: 0 } as any)
      expect(crossesABox(graphLayout(view))).toBeUndefined()
    }), { numRuns: 300 })
  })
})
