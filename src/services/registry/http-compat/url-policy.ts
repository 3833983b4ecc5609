import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { UnauthorizedError } from '../../../node/errors.js'

export type Lookup = (host: string) => Promise<string[]>

/** A name that does not resolve in this long is refused (the registration waits on it). */
const LOOKUP_TIMEOUT_MS = 2_000

/**
 * Where a registration may make the registry send requests: only back to the host it came
 * from. The registry GETs heartbeat URLs and POSTs patches for as long as a service is
 * listed, so without this rule anyone who can reach the HTTP API could aim those requests at
 * any host the registry can reach. A URL passes when every address its host resolves to is the
 * registrant's own address, or both are loopback (one machine). Names are resolved once, here.
 */
export async function checkCallbackHosts (urls: readonly string[], remoteAddress: string, lookup: Lookup = resolveAll): Promise<void> {
  const from = plainAddress(remoteAddress)
  for (const url of urls) {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
    const addrs = isIP(host) === 0 ? await withTimeout(lookup(host), host) : [host]
    const foreign = addrs.map(plainAddress).find(a => a !== from && !(isLoopback(a) && isLoopback(from)))
    if (addrs.length === 0 || foreign !== undefined) {
      throw new UnauthorizedError(`${url} points at ${foreign ?? 'no address'}, not at the registering host ${from}: the registry calls back only the host a registration comes from`)
    }
  }
}

async function resolveAll (host: string): Promise<string[]> {
  return (await dnsLookup(host, { all: true })).map(a => a.address)
}

async function withTimeout (p: Promise<string[]>, host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new UnauthorizedError(`cannot resolve ${host} within ${LOOKUP_TIMEOUT_MS} ms`)) }, LOOKUP_TIMEOUT_MS)
  })
  try {
    return await Promise.race([p, timeout])
  } catch (err: any) {
    if (err instanceof UnauthorizedError) throw err
    throw new UnauthorizedError(`cannot resolve ${host}: ${err?.code ?? err?.message ?? err}`)
  } finally {
    clearTimeout(timer)
  }
}

/** "::ffff:10.0.0.5" (an IPv4 peer on a dual-stack socket) is 10.0.0.5. */
function plainAddress (a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a.toLowerCase()
}

function isLoopback (a: string): boolean {
  return a === '::1' || /^127\./.test(a)
}
