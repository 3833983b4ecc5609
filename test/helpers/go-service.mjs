// A fake service of the original Go registry's HTTP API, written from its protocol (not its
// code): it registers with POST /services, keeps the providers its patches tell it about (as
// the Go `registry` package does: Added appended, Removed taken out), answers GET /heartbeat,
// and logs with POST /log to its "Log Service" provider, with the Go client logger's prefix
// "[Service Name] - ". Used in-process by tests and as a process (`node go-service.mjs --name
// ... --registry http://...`, one JSON line per event on stdout) by cluster tests and bench/.
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'

export async function startGoService ({ name, requires = [], registry, host = '127.0.0.1', port = 0, heartbeat = 'ok', registerBeforeListenMs, onEvent = () => {} }) {
  const providers = new Map()
  const patches = []
  const waiters = new Set()
  const state = { heartbeat, heartbeats: 0, refusePatches: false, refused: 0 }
  const wake = () => { for (const w of [...waiters]) w() }
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', c => { body += c })
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/services') {
        if (state.refusePatches) { state.refused++; res.writeHead(500).end(); return }
        let patch
        try { patch = JSON.parse(body) } catch { res.writeHead(400).end(); return }
        for (const e of patch.Added ?? []) providers.set(e.Name, [...(providers.get(e.Name) ?? []), e.URL])
        for (const e of patch.Removed ?? []) providers.set(e.Name, (providers.get(e.Name) ?? []).filter(u => u !== e.URL))
        patches.push({ ...patch, at: Date.now() })
        onEvent({ event: 'patch', patch, at: Date.now() })
        wake()
        res.writeHead(200).end()
        return
      }
      if (req.method === 'GET' && req.url === '/heartbeat') {
        state.heartbeats++
        if (state.heartbeat === 'hang') return // never answered
        res.writeHead(state.heartbeat === 'ok' ? 200 : 500).end()
        return
      }
      res.writeHead(404).end()
    })
  })
  if (registerBeforeListenMs === undefined) {
    await new Promise(resolve => server.listen(port, host, resolve))
    port = server.address().port
  } else if (port === 0) {
    // Like a Go service: it knows its port, registers, and only then listens.
    const probe = createServer()
    await new Promise(resolve => probe.listen(0, host, resolve))
    port = probe.address().port
    await new Promise(resolve => probe.close(resolve))
  }
  const url = `http://${host}:${port}`
  const registration = { ServiceName: name, ServiceURL: url, RequiredServices: requires, ServiceUpdateUrl: `${url}/services`, HeartbeatURL: `${url}/heartbeat` }

  const svc = {
    url,
    name,
    providers,
    patches,
    state,
    registration,
    /** POST /services; resolves to {status, text}. */
    async register (registryUrl = registry) {
      if (registerBeforeListenMs !== undefined && !server.listening) {
        setTimeout(() => server.listen(port, host), registerBeforeListenMs)
      }
      const res = await fetch(`${registryUrl}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) })
      return { status: res.status, text: await res.text() }
    },
    async deregister (registryUrl = registry) {
      const res = await fetch(`${registryUrl}/services`, { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: url })
      return { status: res.status, text: await res.text() }
    },
    /** POST /log to the first provider of "Log Service", as the Go client logger does. */
    async log (message) {
      const target = (providers.get('Log Service') ?? [])[0]
      if (target === undefined) throw new Error('no Log Service provider')
      const res = await fetch(`${target}/log`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `[${name}] - ${message}\n` })
      return res.status
    },
    /** The first patch matching, already received or yet to come. */
    async waitForPatch (match, label, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const p = patches.find(match)
        if (p !== undefined) return p
        if (Date.now() > deadline) throw new Error(`${name}: timed out waiting for ${label}; patches: ${JSON.stringify(patches)}`)
        await new Promise(resolve => {
          const t = setTimeout(done, Math.max(1, deadline - Date.now()))
          function done () { clearTimeout(t); waiters.delete(done); resolve() }
          waiters.add(done)
        })
      }
    },
    /** Gone at once, as a killed process: connections dropped, the port refuses. */
    async kill () {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
  return svc
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { name: { type: 'string' }, requires: { type: 'string', multiple: true, default: [] }, registry: { type: 'string' }, port: { type: 'string', default: '0' } } })
  const print = e => { process.stdout.write(JSON.stringify(e) + '\n') }
  const svc = await startGoService({ name: values.name, requires: values.requires, registry: values.registry, port: Number(values.port), onEvent: print })
  print({ event: 'listening', url: svc.url })
  const r = await svc.register()
  print({ event: r.status === 200 ? 'registered' : 'refused', status: r.status, text: r.text })
  if (r.status !== 200) process.exit(1)
  process.on('SIGINT', () => { void svc.deregister().finally(() => process.exit(0)) })
}
