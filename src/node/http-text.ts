import Fastify, { type FastifyInstance } from 'fastify'
import { isGdsError, ListenError } from './errors.js'
import type { Logger } from './logger.js'

/** HTTP status of each gds error a plain-text HTTP endpoint answers with. */
const STATUS: Record<string, number> = {
  InvalidMessageError: 400,
  UnauthorizedError: 403,
  NotFoundError: 404,
  OverloadedError: 503,
  QuotaExceededError: 429,
  PatchDeliveryError: 502
}

export interface TextServerOptions {
  /** Largest request body; a bigger one is answered 413. */
  bodyLimit: number
  /** A request (headers, body, and the handler's work) may take this long. */
  requestTimeoutMs: number
  log: Logger
}

/**
 * A fastify server for the plain HTTP endpoints of the Go system's API (--http-compat): every
 * body is read as a bounded string whatever its content type (the handlers parse it), and an
 * error is answered with its status and its message as one line of text, never a stack.
 */
export function textServer (opts: TextServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit, requestTimeout: opts.requestTimeoutMs, return503OnClosing: true })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  app.setErrorHandler((err: any, _req, reply) => {
    const status = isGdsError(err) ? STATUS[err.name] ?? 500 : typeof err?.statusCode === 'number' ? err.statusCode : 500
    if (status >= 500 && !isGdsError(err)) opts.log.error({ err: err?.message }, 'HTTP request failed')
    const message = err?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the body is larger than the ${opts.bodyLimit}-byte limit` : String(err?.message ?? err)
    return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`)
  })
  app.setNotFoundHandler((req, reply) => reply.code(404).type('text/plain; charset=utf-8').send(`no route ${req.method} ${req.url.slice(0, 200)}\n`))
  return app
}

/** Listens on host:port; the port it got (0 picks one) is in the returned URL. */
export async function listenText (app: FastifyInstance, host: string, port: number, hint: string): Promise<string> {
  try {
    await app.listen({ host, port })
  } catch (err) {
    throw new ListenError(`http ${host}:${port}`, err, hint)
  }
  const addr = app.server.address()
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
}
