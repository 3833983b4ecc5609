import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { parseHostPort } from '../../src/node/config.js'
import { goToGdsName } from '../../src/node/go-names.js'
import type { Logger } from '../../src/node/logger.js'
import { providerRecord } from '../../src/node/schemas.js'
import { HttpLog, MAX_LOG_IN_FLIGHT, parseGoLogLine } from '../../src/services/log/http-log.js'
import { statusTable } from '../../src/cli/format.js'
import type { LogEntry } from '../../src/node/log-shipper.js'
import type { Transition } from '../../src/node/heartbeat.js'
import { HttpProber } from '../../src/services/registry/http-compat/heartbeats.js'
import { httpPeerId } from '../../src/services/registry/http-compat/identity.js'
import { PatchSender } from '../../src/services/registry/http-compat/patches.js'
import { checkCallbackHosts } from '../../src/services/registry/http-compat/url-policy.js'
import { parseDeregistration, parseRegistration } from '../../src/services/registry/http-compat/wire.js'

const GO = { ServiceName: 'Grading Service', ServiceURL: 'http://127.0.0.1:6000', RequiredServices: ['Log Service'], ServiceUpdateUrl: 'http://127.0.0.1:6000/services', HeartbeatURL: 'http://127.0.0.1:6000/heartbeat' }
const quiet = { debug () {}, info () {}, warn () {}, error () {} } as unknown as Logger

describe('Go service names', () => {
  it('map to catalogue names by one rule', () => {
    expect(goToGdsName('Log Service')).toBe('log-service')
    expect(goToGdsName('Grading Service')).toBe('grading-service')
    expect(goToGdsName('Portal Service')).toBe('portal-service')
    expect(goToGdsName('  My__Odd  Name!! ')).toBe('my-odd-name')
    expect(goToGdsName('x'.repeat(64))).toHaveLength(63)
  })

  it('need a letter or digit', () => {
    expect(() => goToGdsName('***')).toThrow(/no letter or digit/)
  })
})

describe('a Go registration', () => {
  it('is read with field names in any case (Go matches them so), RequiredServices null or absent', () => {
    const reg = parseRegistration(JSON.stringify(GO))
    expect(reg).toMatchObject({ goName: 'Grading Service', name: 'grading-service', url: GO.ServiceURL, updateUrl: GO.ServiceUpdateUrl, heartbeatUrl: GO.HeartbeatURL, goRequires: ['Log Service'], requires: ['log-service'] })
    const lower = Object.fromEntries(Object.entries(GO).map(([k, v]) => [k.toLowerCase(), v]))
    expect(parseRegistration(JSON.stringify(lower)).name).toBe('grading-service')
    expect(parseRegistration(JSON.stringify({ ...GO, RequiredServices: null })).requires).toEqual([])
    const { RequiredServices: _, ...none } = GO
    expect(parseRegistration(JSON.stringify(none)).requires).toEqual([])
  })

  it.each([
    ['not JSON', '{"ServiceName":', /not JSON/],
    ['not an object', '[1,2]', /JSON object/],
    ['no name', JSON.stringify({ ...GO, ServiceName: '' }), /no ServiceName/],
    ['no heartbeat URL', JSON.stringify({ ...GO, HeartbeatURL: undefined }), /no HeartbeatURL/],
    ['a number for a URL', JSON.stringify({ ...GO, ServiceURL: 6000 }), /ServiceURL must be a string/],
    ['a relative URL', JSON.stringify({ ...GO, ServiceURL: '/grading' }), /not an absolute URL/],
    ['a file URL', JSON.stringify({ ...GO, HeartbeatURL: 'file:///etc/passwd' }), /http or https/],
    ['credentials in a URL', JSON.stringify({ ...GO, ServiceUpdateUrl: 'http://u:p@127.0.0.1:6000/services' }), /credentials/],
    ['a URL too long', JSON.stringify({ ...GO, ServiceURL: `http://127.0.0.1/${'a'.repeat(300)}` }), /longer than 256/],
    ['a name too long', JSON.stringify({ ...GO, ServiceName: 'n'.repeat(65) }), /longer than 64/],
    ['requires not an array', JSON.stringify({ ...GO, RequiredServices: 'Log Service' }), /array/],
    ['too many requires', JSON.stringify({ ...GO, RequiredServices: Array.from({ length: 33 }, (_, i) => `S${i}`) }), /at most 32/],
    ['itself required', JSON.stringify({ ...GO, RequiredServices: ['grading service'] }), /cannot require itself/]
  ])('is refused with a reason: %s', (_what, body, reason) => {
    expect(() => parseRegistration(body)).toThrow(reason)
    try { parseRegistration(body) } catch (err: any) { expect(err.name).toBe('InvalidMessageError') }
  })

  it('is deregistered by its URL as plain text', () => {
    expect(parseDeregistration(' http://127.0.0.1:6000\n')).toBe('http://127.0.0.1:6000')
    expect(() => parseDeregistration('')).toThrow(/plain-text body/)
    expect(() => parseDeregistration('grading')).toThrow(/not an absolute URL/)
  })
})

describe('the identity of an HTTP service', () => {
  it('is a stable id from its URL that parses as a peer id (one no key can own) and fits the records', () => {
    const id = httpPeerId('http://127.0.0.1:6000')
    expect(id).toBe(httpPeerId('http://127.0.0.1:6000/'))
    expect(id).not.toBe(httpPeerId('http://127.0.0.1:6001'))
    expect(id.startsWith('Qm')).toBe(true)
    expect(peerIdFromString(id).type).toBe('RSA')
    expect(peerIdFromString(id).publicKey).toBeUndefined()
    const record = { name: 'log-service', peerId: id, addrs: [], requires: [], version: '0.0.0', meta: {}, incarnation: 1, seq: 0, status: 'up', transport: 'http', url: 'http://127.0.0.1:6000' }
    expect(providerRecord.safeParse(record).success).toBe(true)
    expect(providerRecord.safeParse({ ...record, transport: 'carrier-pigeon' }).success).toBe(false)
  })
})

describe('--http-compat HOST:PORT', () => {
  it('binds loopback unless a host is named', () => {
    expect(parseHostPort('3000')).toEqual({ host: '127.0.0.1', port: 3000 })
    expect(parseHostPort(':3000')).toEqual({ host: '127.0.0.1', port: 3000 })
    expect(parseHostPort('0.0.0.0:3000')).toEqual({ host: '0.0.0.0', port: 3000 })
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(() => parseHostPort('a:b:3000')).toThrow(/HOST:PORT/)
    expect(() => parseHostPort('127.0.0.1:70000')).toThrow(/HOST:PORT/)
  })
})

describe('where a registration may send the registry', () => {
  const lookup = async (host: string): Promise<string[]> => ({ grading: ['172.18.0.5'], evil: ['169.254.169.254'], both: ['172.18.0.5', '10.0.0.1'], localhost: ['127.0.0.1', '::1'] })[host] ?? []

  it('back to the host it came from, or loopback to loopback', async () => {
    await checkCallbackHosts(['http://grading:6000', 'http://172.18.0.5:6000/hb'], '::ffff:172.18.0.5', lookup)
    await checkCallbackHosts(['http://localhost:6000', 'http://[::1]:6000'], '127.0.0.1', lookup)
  })

  it.each([
    ['another host', ['http://evil/latest'], '172.18.0.5', /points at 169.254.169.254/],
    ['a name with one foreign address', ['http://both:6000'], '172.18.0.5', /points at 10.0.0.1/],
    ['loopback from a remote registrant', ['http://127.0.0.1:22'], '172.18.0.5', /points at 127.0.0.1/],
    ['a name that does not resolve', ['http://nowhere:1'], '127.0.0.1', /no address/]
  ])('nowhere else: %s', async (_what, urls, from, reason) => {
    await expect(checkCallbackHosts(urls, from, lookup)).rejects.toThrow(reason)
    await expect(checkCallbackHosts(urls, from, lookup)).rejects.toHaveProperty('name', 'UnauthorizedError')
  })
})

describe('a Go log line', () => {
  it('gives its service and message', () => {
    expect(parseGoLogLine('[Grading Service] - graded 3 students\n')).toEqual({ service: 'grading-service', msg: 'graded 3 students' })
    expect(parseGoLogLine('Portal Service: started')).toEqual({ service: 'portal-service', msg: 'started' })
    expect(parseGoLogLine('no prefix here')).toEqual({ service: 'http', msg: 'no prefix here' })
  })
})

describe('heartbeats of Go services', () => {
  const servers: Array<ReturnType<typeof createServer>> = []
  let prober: HttpProber | undefined
  afterEach(async () => {
    prober?.stop()
    for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }
  })

  async function heartbeatServer (answer: (res: ServerResponse) => void): Promise<{ url: string, hits: () => number }> {
    let hits = 0
    const server = createServer((_req, res) => { hits++; answer(res) })
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/heartbeat`, hits: () => hits }
  }

  function start (timeoutMs: number): Array<{ key: string, t: Transition }> {
    const transitions: Array<{ key: string, t: Transition }> = []
    // The beat is a minute: whatever a test sees sooner is the first probe or one out of turn.
    prober = new HttpProber({ log: quiet, now: Date.now, random: () => 0.5, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: timeoutMs, failureThreshold: 2, onTransition: (key, t) => { transitions.push({ key, t }) }, onAck: () => {} })
    return transitions
  }

  async function until (check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  it('a service killed between beats is down at once: its idle connection closes, the probe is refused', async () => {
    const transitions = start(2_000)
    const { url, hits } = await heartbeatServer(res => res.writeHead(200).end())
    prober!.add('a', url, { immediately: true })
    await until(() => hits() === 1, 'the first probe')
    await new Promise(resolve => setTimeout(resolve, 50))
    servers[0].closeAllConnections()
    servers[0].close()
    await until(() => transitions.length > 0, 'a transition')
    expect(transitions).toEqual([{ key: 'a', t: { from: 'up', to: 'down', reason: 'connection-closed' } }])
  })

  it('a hung endpoint times out twice (suspect, then down); an answer other than 200 counts as a miss', async () => {
    const transitions = start(100)
    const hung = await heartbeatServer(() => {})
    const failing = await heartbeatServer(res => res.writeHead(500).end())
    prober!.add('hung', hung.url, { immediately: true })
    prober!.add('failing', failing.url, { immediately: true })
    await until(() => transitions.filter(x => x.t.to === 'down').length === 2, 'both down')
    expect(transitions.filter(x => x.key === 'hung').map(x => [x.t.to, x.t.reason])).toEqual([['suspect', 'heartbeat-timeout'], ['down', 'heartbeat-timeout']])
    expect(transitions.filter(x => x.key === 'failing').map(x => [x.t.to, x.t.reason])).toEqual([['suspect', 'unreachable'], ['down', 'unreachable']])
  })
})

describe('POST /log on the log node', () => {
  it('stores each line once, keyed uniquely; a flood beyond the lines in flight is told 503, and nothing of it stored', async () => {
    const stored: LogEntry[] = []
    const waiting: Array<() => void> = []
    const http = new HttpLog({ listen: '127.0.0.1:0', now: () => 5, log: quiet, append: async entries => { await new Promise<void>(resolve => waiting.push(resolve)); stored.push(...entries) } })
    const url = await http.start()
    try {
      const first = Array.from({ length: MAX_LOG_IN_FLIGHT }, async (_, i) => (await fetch(`${url}/log`, { method: 'POST', body: `[Log Service] - line ${i}` })).status)
      while (waiting.length < MAX_LOG_IN_FLIGHT) await new Promise(resolve => setTimeout(resolve, 10))
      const over = await fetch(`${url}/log`, { method: 'POST', body: '[Log Service] - one too many' })
      expect([over.status, await over.text()]).toEqual([503, `${MAX_LOG_IN_FLIGHT} log lines are being stored; send again in a moment\n`])
      for (const w of waiting) w()
      expect(new Set(await Promise.all(first))).toEqual(new Set([200]))
      expect(stored).toHaveLength(MAX_LOG_IN_FLIGHT)
      expect(new Set(stored.map(e => e.seq)).size).toBe(MAX_LOG_IN_FLIGHT)
      expect(stored.every(e => e.service === 'log-service' && e.inc === 5 && e.msg.startsWith('line '))).toBe(true)
    } finally {
      await http.stop()
    }
  })
})

describe('an HTTP entry in gds status', () => {
  it('shows its URL where a libp2p entry shows its peer', () => {
    const r = { name: 'log-service', peerId: httpPeerId('http://127.0.0.1:4000'), addrs: [], requires: [], version: '0.0.0', meta: {}, incarnation: 1, seq: 0, status: 'up' as const, transport: 'http' as const, url: 'http://127.0.0.1:4000' }
    expect(statusTable([r], 0).split('\n')[1]).toMatch(/^log-service\s+http:\/\/127\.0\.0\.1:4000\s+up/)
  })
})

describe('patches to Go services', () => {
  let server: ReturnType<typeof createServer> | undefined
  let sender: PatchSender | undefined
  afterEach(async () => {
    sender?.stop()
    server?.closeAllConnections()
    await new Promise(resolve => server?.close(resolve) ?? resolve(undefined))
  })

  async function serve (handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
    server = createServer((req, res) => {
      let body = ''
      req.on('data', c => { body += c })
      req.on('end', () => { handler(req, body, res) })
    })
    await new Promise<void>(resolve => server?.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/services`
  }

  it('tell a dependent the difference from what it was told, one POST at a time: a provider gone and back meanwhile is no news', async () => {
    const bodies: any[] = []
    let release: (() => void) | undefined
    const url = await serve((_req, body, res) => {
      bodies.push(JSON.parse(body))
      if (bodies.length === 1) release = () => res.writeHead(200).end()
      else res.writeHead(200).end()
    })
    const a = { Name: 'Log Service', URL: 'http://a' }
    const b = { Name: 'Log Service', URL: 'http://b' }
    let providers = [a]
    sender = new PatchSender({ log: quiet, timeoutMs: 5_000, attempts: 1, desired: () => ({ updateUrl: url, entries: providers }) })
    sender.sync('dep')
    while (release === undefined) await new Promise(resolve => setTimeout(resolve, 10))
    // While the first POST is on its way: b comes, a goes, b goes, a and b come back.
    for (const next of [[a, b], [b], [], [a, b]]) { providers = next; sender.sync('dep') }
    release()
    while (bodies.length < 2) await new Promise(resolve => setTimeout(resolve, 10))
    providers = [b]
    sender.sync('dep')
    while (bodies.length < 3) await new Promise(resolve => setTimeout(resolve, 10))
    expect(bodies).toEqual([{ Added: [a], Removed: [] }, { Added: [b], Removed: [] }, { Added: [], Removed: [a] }])
  })

  it('make good a patch that failed with the next one', async () => {
    const bodies: any[] = []
    let fail = true
    const url = await serve((_req, body, res) => { bodies.push(JSON.parse(body)); res.writeHead(fail ? 500 : 200).end() })
    const a = { Name: 'Log Service', URL: 'http://a' }
    const b = { Name: 'Log Service', URL: 'http://b' }
    let providers = [a]
    sender = new PatchSender({ log: quiet, timeoutMs: 5_000, attempts: 1, desired: () => ({ updateUrl: url, entries: providers }) })
    sender.sync('dep')
    while (bodies.length < 1) await new Promise(resolve => setTimeout(resolve, 10))
    fail = false
    providers = [a, b]
    sender.sync('dep')
    while (bodies.length < 2) await new Promise(resolve => setTimeout(resolve, 10))
    expect(bodies).toEqual([{ Added: [a], Removed: [] }, { Added: [a, b], Removed: [] }])
  })

  it('reach port 6000 (where the Go grading service listens), which fetch refuses as a "bad port"', async () => {
    const bodies: string[] = []
    server = createServer((req, res) => { req.on('data', c => { bodies.push(String(c)) }); req.on('end', () => res.writeHead(200).end()) })
    // An address of 127/8 that nothing else on this machine uses, so port 6000 is free there.
    await new Promise<void>(resolve => server?.listen(6000, '127.0.0.77', resolve))
    sender = new PatchSender({ log: quiet, timeoutMs: 5_000, attempts: 1, desired: () => undefined })
    await sender.deliver('http://127.0.0.77:6000/services', { Added: [{ Name: 'Log Service', URL: 'http://127.0.0.77:4000' }], Removed: [] })
    expect(bodies).toEqual(['{"Added":[{"Name":"Log Service","URL":"http://127.0.0.77:4000"}],"Removed":[]}'])
  })

  it('are retried a bounded number of times, and a redirect is not followed', async () => {
    let hits = 0
    const url = await serve((_req, _body, res) => { hits++; res.writeHead(302, { location: 'http://169.254.169.254/' }).end() })
    sender = new PatchSender({ log: quiet, timeoutMs: 2_000, attempts: 3, desired: () => undefined })
    await expect(sender.deliver(url, { Added: [], Removed: [] })).rejects.toThrow()
    expect(hits).toBe(3)
  })

  it('time out on a dependent that never answers', async () => {
    const url = await serve(() => {})
    sender = new PatchSender({ log: quiet, timeoutMs: 100, attempts: 1, desired: () => undefined })
    await expect(sender.deliver(url, { Added: [], Removed: [] })).rejects.toHaveProperty('name', 'AbortError')
  })
})
