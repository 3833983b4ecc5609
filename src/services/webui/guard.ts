/**
 * Who may use the portal: pure checks over a request's method, path and headers, so each rule
 * is tested without a server. Three rules, in this order:
 *
 * 1. Bound to loopback without a token, the Host header must name loopback too: a page whose
 *    DNS name was rebound to 127.0.0.1 is then refused (it would otherwise be same-origin).
 * 2. A state-changing request (POST) must come from the portal's own pages. Browsers say where
 *    a request comes from: `Sec-Fetch-Site` (sent on loopback and https), else `Origin` (every
 *    POST of every current browser), else `Referer`. A request with none of them is not from a
 *    browser (curl, a script) and is let through; what a hostile page can make a browser send
 *    always carries one. (The order of Go 1.25's CrossOriginProtection, plus Referer.)
 * 3. With a token, every request but the sign-in must present it: `Authorization: Bearer`, or
 *    the cookie set by signing in.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'

export interface GuardPolicy {
  /** The token to require, or undefined for none (loopback only). */
  token?: string
  /** The server is bound to a loopback address. */
  loopback: boolean
  /** The sign-in cookie's name (per port: cookies do not tell ports apart). */
  cookie: string
}

export interface GuardRequest {
  method: string
  /** The path, without the query. */
  path: string
  headers: Record<string, string | string[] | undefined>
}

export type Verdict =
  | { ok: true }
  | { ok: false, status: 401 | 403 | 421, reason: string }

/** Paths that need no token: the sign-in itself. */
export const LOGIN_PATH = '/login'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h === '::1' || /^::ffff:127\./.test(h)
}

function header (req: GuardRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function hostname (host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname
  } catch {
    return undefined
  }
}

/** Why a state-changing request is refused as coming from another site, or undefined to let it through. */
export function crossOriginRefusal (req: GuardRequest): string | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined
  const site = header(req, 'sec-fetch-site')
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? undefined : `the browser says it was sent from a ${site} page`
  const from = header(req, 'origin') ?? header(req, 'referer')
  if (from === undefined) return undefined
  let host: string
  try {
    host = new URL(from).host
  } catch {
    // "null": a sandboxed frame, a file: page or a privacy redirect; never one of our pages.
    return `it was sent from an opaque origin ("${from}")`
  }
  return host === header(req, 'host') ? undefined : `it was sent from ${new URL(from).origin}`
}

/** The token a request presents: a bearer header, else the sign-in cookie. */
export function presentedToken (req: GuardRequest, cookie: string): string | undefined {
  const auth = header(req, 'authorization')
  if (auth !== undefined && /^bearer /i.test(auth)) return auth.slice(7).trim()
  for (const part of (header(req, 'cookie') ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === cookie) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Constant-time comparison (of digests, so the lengths do not show either). */
export function tokenMatches (given: string | undefined, token: string): boolean {
  if (given === undefined) return false
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/** What the portal does with a request before any route sees it. */
export function admit (req: GuardRequest, policy: GuardPolicy): Verdict {
  if (policy.loopback && policy.token === undefined) {
    const name = hostname(header(req, 'host') ?? '')
    if (name === undefined || !isLoopback(name)) {
      return { ok: false, status: 421, reason: `this portal answers only on this machine's loopback address, not as "${header(req, 'host') ?? ''}"` }
    }
  }
  const cross = crossOriginRefusal(req)
  if (cross !== undefined) return { ok: false, status: 403, reason: `a form may only be sent from the portal's own pages, and ${cross}` }
  if (policy.token !== undefined && req.path !== LOGIN_PATH && !tokenMatches(presentedToken(req, policy.cookie), policy.token)) {
    return { ok: false, status: 401, reason: 'sign in with the portal\'s token' }
  }
  return { ok: true }
}
