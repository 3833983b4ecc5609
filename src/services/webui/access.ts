import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Logger } from '../../node/logger.js'
import { InvalidConfigError } from '../../node/errors.js'
import { admit, isLoopback, LOGIN_PATH, tokenMatches, type GuardPolicy } from './guard.js'
import { loginPage, refusedPage } from './portal.js'
import { loadOrCreateToken } from './token.js'

/** Bound beyond loopback, the portal always has a token: the one given, else one of its own (kept in dataDir). */
export function guardPolicy (host: string, port: number, token: string | undefined, dataDir: string | undefined): GuardPolicy {
  const loopback = isLoopback(host)
  // Named per port: cookies do not tell ports apart.
  const cookie = `gds_token_${port}`
  if (token !== undefined || loopback) return { token, loopback, cookie }
  if (dataDir === undefined) throw new InvalidConfigError(`the web UI binds ${host}, beyond loopback: give it --http-token`)
  return { token: loadOrCreateToken(dataDir).token, loopback, cookie }
}

/**
 * Puts the guard (guard.ts) in front of every route, and adds the sign-in: the printed link
 * (GET /login?token=) or the form of the 401 page (POST /login). Either sets an HttpOnly,
 * SameSite=Strict cookie, so the token leaves the address bar at once.
 */
export function protect (app: FastifyInstance, policy: () => GuardPolicy, log: Logger): void {
  app.addHook('onRequest', async (req, reply) => {
    const verdict = admit({ method: req.method, path: req.url.split('?')[0], headers: req.headers }, policy())
    if (verdict.ok) return
    if (verdict.status === 401) return reply.code(401).type('text/html').send(loginPage())
    // Debug, not warn: whoever may send requests must not be able to fill the cluster log.
    log.debug({ method: req.method, url: req.url, status: verdict.status }, 'web request refused')
    return reply.code(verdict.status).type('text/html').send(refusedPage(verdict.reason))
  })
  const signIn = (given: unknown, reply: FastifyReply): FastifyReply => {
    const { token, cookie } = policy()
    if (token === undefined) return reply.code(303).header('location', '/').send()
    // A repeated field arrives as an array: not a token.
    if (typeof given !== 'string' || !tokenMatches(given, token)) return reply.code(401).type('text/html').send(loginPage('That is not the portal\'s token.'))
    return reply.code(303).header('set-cookie', `${cookie}=${token}; Path=/; HttpOnly; SameSite=Strict`).header('location', '/').send()
  }
  app.get<{ Querystring: { token?: unknown } }>(LOGIN_PATH, async (req, reply) =>
    req.query.token === undefined ? reply.type('text/html').send(loginPage()) : signIn(req.query.token, reply))
  app.post<{ Body: { token?: unknown } }>(LOGIN_PATH, async (req, reply) => signIn(req.body?.token, reply))
}
