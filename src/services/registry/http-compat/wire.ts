import { InvalidMessageError } from '../../../node/errors.js'
import { goToGdsName, MAX_GO_NAME } from '../../../node/go-names.js'
import { MAX_REQUIRES } from '../../../node/protocols.js'

/**
 * The original Go registry's HTTP API as its services speak it, parsed and checked here and
 * nowhere else. Pure: no I/O.
 */

/** A Go registration, every field named as gds uses it. */
export interface GoRegistration {
  /** As the service spelt it ("Grading Service"): patches to Go services carry this spelling. */
  goName: string
  /** The catalogue name (goToGdsName of goName). */
  name: string
  /** The instance's identity, as sent (patches and DELETE use it verbatim). */
  url: string
  updateUrl: string
  heartbeatUrl: string
  /** Required names as the service spelt them, and their catalogue names (same order). */
  goRequires: string[]
  requires: string[]
}

export interface PatchEntry { Name: string, URL: string }
/** What the Go services' update handler decodes. */
export interface GoPatch { Added: PatchEntry[], Removed: PatchEntry[] }

/** A URL is kept in a catalogue meta value (256 characters at most). */
export const MAX_URL_LENGTH = 256

/** The body of POST /services. Field names in any case, as Go's encoding/json matches them. */
export function parseRegistration (body: string): GoRegistration {
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch (err: any) {
    throw new InvalidMessageError(`the registration is not JSON: ${err?.message ?? err}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidMessageError('the registration must be a JSON object with ServiceName, ServiceURL, RequiredServices, ServiceUpdateURL and HeartbeatURL')
  const fields = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]))
  const goName = text(fields, 'ServiceName', MAX_GO_NAME)
  const goRequires = requiredNames(fields.get('requiredservices'))
  const reg: GoRegistration = {
    goName,
    name: goToGdsName(goName),
    url: httpUrl(fields, 'ServiceURL'),
    updateUrl: httpUrl(fields, 'ServiceUpdateURL'),
    heartbeatUrl: httpUrl(fields, 'HeartbeatURL'),
    goRequires,
    requires: goRequires.map(goToGdsName)
  }
  if (reg.requires.includes(reg.name)) throw new InvalidMessageError(`"${goName}" cannot require itself`)
  return reg
}

/** The body of DELETE /services: the service URL as plain text. */
export function parseDeregistration (body: string): string {
  const url = body.trim()
  if (url === '') throw new InvalidMessageError('send the service URL to deregister as the plain-text body of DELETE /services')
  return checkUrl(url, 'the body')
}

/** The key of a service URL: two spellings of one URL are one service. */
export function urlKey (url: string): string {
  return new URL(url).href
}

function text (fields: Map<string, unknown>, field: string, max: number): string {
  const v = fields.get(field.toLowerCase())
  if (v === undefined || v === null || v === '') throw new InvalidMessageError(`the registration has no ${field}`)
  if (typeof v !== 'string') throw new InvalidMessageError(`${field} must be a string`)
  if (v.length > max) throw new InvalidMessageError(`${field} is longer than ${max} characters`)
  return v
}

function httpUrl (fields: Map<string, unknown>, field: string): string {
  return checkUrl(text(fields, field, MAX_URL_LENGTH), field)
}

/** An absolute http(s) URL without credentials (where it may point is url-policy.ts's call). */
function checkUrl (url: string, what: string): string {
  if (url.length > MAX_URL_LENGTH) throw new InvalidMessageError(`${what} is longer than ${MAX_URL_LENGTH} characters`)
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new InvalidMessageError(`${what} "${url}" is not an absolute URL`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidMessageError(`${what} "${url}" must be an http or https URL`)
  if (u.username !== '' || u.password !== '') throw new InvalidMessageError(`${what} must not carry credentials`)
  return url
}

function requiredNames (v: unknown): string[] {
  // Go marshals an empty slice as null.
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new InvalidMessageError('RequiredServices must be an array of service names')
  if (v.length > MAX_REQUIRES) throw new InvalidMessageError(`RequiredServices may name at most ${MAX_REQUIRES} services`)
  const out: string[] = []
  for (const n of v) {
    if (typeof n !== 'string' || n === '' || n.length > MAX_GO_NAME) throw new InvalidMessageError(`RequiredServices must hold names of 1-${MAX_GO_NAME} characters`)
    if (!out.includes(n)) out.push(n)
  }
  return out
}
