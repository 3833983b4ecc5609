import Fastify, { type FastifyInstance } from 'fastify'
import formbody from '@fastify/formbody'
import { CatalogFeed } from '../../node/catalog-feed.js'
import { DEFAULT_HTTP_HOST } from '../../node/config.js'
import { ListenError, NotFoundError } from '../../node/errors.js'
import { RegistryClient } from '../../node/client.js'
import { defineService, type ServiceContext, type ServiceDefinition } from '../../node/service.js'
import type { Student, StudentSummary } from '../grading/store.js'
import { clusterParts } from './cluster-view.js'
import { Html, html, page } from './html.js'
import { guardPolicy, protect } from './access.js'
import { notFoundPage, studentPage, studentsPage, unavailablePage, type GradeForm, type StudentForm } from './portal.js'

export interface WebuiOptions {
  httpPort: number
  /** The address to bind. @default 127.0.0.1 */
  host?: string
  /** The sign-in token (see GdsConfig.httpToken); beyond loopback one is made in `dataDir` if not given. */
  token?: string
  /** Where a generated token is kept; required to bind beyond loopback without `token`. */
  dataDir?: string
  /** The registry to watch (the node's --registry). */
  registry: string
}

export type WebuiDefinition = ServiceDefinition & { readonly url: string | undefined }

/** An INVALID_PARAMS message as a person would say it: no method prefix, no field path. */
function humane (err: { message: string }): string {
  const message = err.message.replace(/^grading\.[a-zA-Z]+: /, '').replace(/^[a-zA-Z.]+: /, '')
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}.`
}

/** Browser pushes are coalesced to at most one per this long. */
const PUSH_EVERY_MS = 100

const CLUSTER_SCRIPT = `
const es = new EventSource('/cluster/events');
es.onmessage = m => { const p = JSON.parse(m.data); for (const k of ['status','graph','table','events']) document.getElementById(k).innerHTML = p[k]; };
es.onerror = () => { document.getElementById('status').innerHTML = '<span class="pill suspect">live updates interrupted</span> retrying…'; };`

/** The host part of a URL for a person: a wildcard bind is reached at loopback here; IPv6 in brackets. */
function urlHost (host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

/**
 * The webui role: the grading portal (server-rendered, works without JavaScript) and a live
 * cluster page fed by the registry's watch stream over server-sent events. It requires
 * grading and log, and reaches grading only through the balancer.
 */
export function webuiService (opts: WebuiOptions): WebuiDefinition {
  let app: FastifyInstance | undefined
  let url: string | undefined
  let feed: CatalogFeed | undefined
  const browsers = new Set<(data: string) => void>()

  const def = defineService({
    name: 'webui',
    version: '1.0.0',
    requires: ['grading', 'log'],
    async start (ctx: ServiceContext) {
      const cluster = new CatalogFeed({
        // While the registry is away, a peer's view (any node holds the whole catalogue).
        connect: async peer => RegistryClient.connect({ registry: peer ?? opts.registry }),
        peerFallback: true,
        now: Date.now,
        random: Math.random,
        coalesceMs: PUSH_EVERY_MS,
        onError: (err: any) => { ctx.log.debug({ err: err?.message }, 'watch stream lost') }
      })
      feed = cluster
      const parts = (): ReturnType<typeof clusterParts> => clusterParts(cluster.snapshot.view, cluster.snapshot.connection === 'connected', Date.now(), cluster.snapshot.connection === 'peer' ? cluster.snapshot.viewSource : undefined)
      cluster.subscribe(() => {
        const data = JSON.stringify(parts())
        for (const send of browsers) send(data)
      })
      const grading = async <T>(method: string, params: object, idempotent: boolean): Promise<T> =>
        ctx.call<T>('grading', method, params, { idempotent, timeoutMs: 3_000 })
      app = Fastify({ logger: false, bodyLimit: 16 * 1024 })
      await app.register(formbody)
      app.setErrorHandler((err: any, _req, reply) => {
        if (err?.name === 'NotFoundError') return reply.code(404).type('text/html').send(notFoundPage(err.message))
        // What grading refuses and no form caught is the request's fault, not ours.
        if (err?.name === 'InvalidParamsError') return reply.code(400).type('text/html').send(page('Bad request', 'grades', html`<h1>Bad request</h1><p>${humane(err)}</p>`))
        if (err?.retryable === true || err?.name === 'ServiceNotFoundError' || err?.name === 'PeerUnavailableError') {
          return reply.code(503).type('text/html').send(unavailablePage('grading', err.message))
        }
        if (typeof err?.statusCode === 'number' && err.statusCode < 500) return reply.code(err.statusCode).type('text/plain').send(err.message)
        ctx.log.error({ err: err?.message }, 'web request failed')
        return reply.code(500).type('text/html').send(page('Error', 'grades', html`<h1>Something went wrong</h1><p>${err?.message}</p>`))
      })
      const host = opts.host ?? DEFAULT_HTTP_HOST
      let policy = guardPolicy(host, opts.httpPort, opts.token, opts.dataDir)
      protect(app, () => policy, ctx.log)
      app.setNotFoundHandler(async (req, reply) => reply.code(404).type('text/html').send(notFoundPage(`There is no page at ${req.url}.`)))
      const studentId = (raw: string): number => {
        if (!/^[1-9][0-9]*$/.test(raw)) throw new NotFoundError(`"${raw}" is not an id`)
        // Digits beyond 2^53 are an id no record has (and grading's schema would refuse them).
        if (!Number.isSafeInteger(Number(raw))) throw new NotFoundError(`nothing has the id ${raw}`)
        return Number(raw)
      }

      app.get('/', async (_req, reply) => reply.type('text/html').send(studentsPage(await grading<StudentSummary[]>('listStudents', {}, true))))
      app.get<{ Params: { id: string } }>('/students/:id', async (req, reply) =>
        reply.type('text/html').send(studentPage(await grading<Student>('getStudent', { id: studentId(req.params.id) }, true))))
      app.post<{ Body: StudentForm }>('/students', async (req, reply) => {
        const form = req.body ?? {}
        let created: Student
        try {
          created = await grading<Student>('addStudent', { firstName: form.firstName ?? '', lastName: form.lastName ?? '' }, false)
        } catch (err: any) {
          if (err?.name !== 'InvalidParamsError') throw err
          return reply.code(400).type('text/html').send(studentsPage(await grading<StudentSummary[]>('listStudents', {}, true), form, humane(err)))
        }
        return reply.code(303).header('location', `/students/${created.id}`).send()
      })
      app.post<{ Params: { id: string } }>('/students/:id/delete', async (req, reply) => {
        await grading('removeStudent', { id: studentId(req.params.id) }, false)
        return reply.code(303).header('location', '/').send()
      })
      app.post<{ Params: { id: string }, Body: GradeForm }>('/students/:id/grades', async (req, reply) => {
        const id = studentId(req.params.id)
        const form = req.body ?? {}
        const score = form.score === undefined || form.score.trim() === '' ? Number.NaN : Number(form.score)
        try {
          await grading('addGrade', { studentId: id, title: form.title ?? '', type: form.type ?? '', score }, false)
        } catch (err: any) {
          if (err?.name !== 'InvalidParamsError') throw err
          const message = Number.isNaN(score) ? 'Please enter a score between 0 and 100.' : humane(err)
          return reply.code(400).type('text/html').send(studentPage(await grading<Student>('getStudent', { id }, true), form, message))
        }
        return reply.code(303).header('location', `/students/${id}`).send()
      })
      app.post<{ Params: { id: string, gid: string } }>('/students/:id/grades/:gid/delete', async (req, reply) => {
        const id = studentId(req.params.id)
        await grading('removeGrade', { studentId: id, gradeId: studentId(req.params.gid) }, false)
        return reply.code(303).header('location', `/students/${id}`).send()
      })
      app.get('/cluster', async (_req, reply) => {
        const p = parts()
        return reply.type('text/html').send(page('Cluster', 'cluster', html`<h1>Cluster</h1><p id="status">${new Html(p.status)}</p>
<div class="grid"><div class="card"><h2>Dependencies</h2><div id="graph">${new Html(p.graph)}</div></div>
<div class="card"><h2>Recent events</h2><div id="events">${new Html(p.events)}</div></div></div>
<h2>Instances</h2><div id="table">${new Html(p.table)}</div>`, CLUSTER_SCRIPT))
      })
      app.get('/cluster/state', async () => {
        const { view, connection } = cluster.snapshot
        return { connected: connection === 'connected', registry: view.registry, services: [...view.services.values()], events: view.events.slice(0, 50) }
      })
      app.get('/cluster/events', (req, reply) => {
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
        const send = (data: string): void => { reply.raw.write(`data: ${data}\n\n`) }
        send(JSON.stringify(parts()))
        browsers.add(send)
        req.raw.on('close', () => { browsers.delete(send) })
      })
      try {
        await app.listen({ port: opts.httpPort, host })
      } catch (err) {
        throw new ListenError(`http port ${opts.httpPort}`, err, 'choose another with --http-port')
      }
      const address = app.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : opts.httpPort
      policy = { ...policy, cookie: `gds_token_${port}` } // the port 0 asked for is known now
      url = `http://${urlHost(host)}:${port}/`
      ctx.log.info({ url, signIn: policy.token !== undefined }, 'web UI listening')
      // The token goes to whoever started the node (the serving event), never to the log.
      ctx.serving(url, policy.token === undefined ? undefined : `${url}login?token=${policy.token}`)
      cluster.start()
    },
    async stop () {
      feed?.stop()
      browsers.clear()
      await app?.close()
    }
  })
  return Object.defineProperty(def, 'url', { get: () => url, enumerable: false }) as WebuiDefinition
}
