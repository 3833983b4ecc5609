import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidConfigError } from '../../node/errors.js'
import { SERVICE_NAME_PATTERN } from '../../node/protocols.js'

/**
 * Who may provide a name (`--acl FILE`): service name → the peer ids allowed to provide it.
 * `"*"` as a name is every name not listed; `"*"` in a list is any peer. A name matching no
 * entry may be provided by no one. Pure: the registry reads the file, this judges.
 *
 * Without an ACL the registry is open (any peer may provide any name): right for a laptop on
 * loopback, and the registry warns when it listens beyond loopback that way.
 */
export type Acl = ReadonlyMap<string, ReadonlySet<string>>

export const ANY = '*'

/** Parses an ACL file's text; throws InvalidConfigError naming the file and what is wrong. */
export function parseAcl (text: string, file: string): Acl {
  const bad = (what: string): InvalidConfigError => new InvalidConfigError(`ACL file ${file}: ${what}`)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err: any) {
    throw bad(`not JSON (${String(err?.message ?? err).split('\n')[0]})`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('must be a JSON object mapping a service name (or "*") to a list of peer ids (or "*")')
  const acl = new Map<string, Set<string>>()
  for (const [name, peers] of Object.entries(raw)) {
    if (name !== ANY && !SERVICE_NAME_PATTERN.test(name)) throw bad(`"${name}" is not a service name (1-63 lowercase letters, digits and "-") nor "*"`)
    if (!Array.isArray(peers)) throw bad(`the value of "${name}" must be a list of peer ids (or "*")`)
    const allowed = new Set<string>()
    for (const p of peers) {
      if (typeof p !== 'string') throw bad(`the list of "${name}" holds ${JSON.stringify(p)}, not a peer id`)
      if (p !== ANY) {
        try {
          peerIdFromString(p)
        } catch {
          throw bad(`the list of "${name}" holds "${p.slice(0, 80)}", which is not a peer id`)
        }
      }
      allowed.add(p)
    }
    acl.set(name, allowed)
  }
  return acl
}

/** Whether `peerId` may provide `name` under `acl` (no ACL: everyone may). */
export function mayProvide (acl: Acl | undefined, name: string, peerId: string): boolean {
  if (acl === undefined) return true
  const allowed = acl.get(name) ?? acl.get(ANY)
  return allowed !== undefined && (allowed.has(ANY) || allowed.has(peerId))
}
