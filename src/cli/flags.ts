import * as Flags from '@oclif/core/flags'
import { InvalidParamsError } from '../node/errors.js'
import { REGISTRY_FLAGS } from './common-flags.js'
import { oclifFlags } from './oclif-flags.js'

/** Flags of commands that talk to a registry. */
export const registryFlags = oclifFlags(REGISTRY_FLAGS)

/** Flags of commands that call services: reach them through a peer while the registry is down. */
export const peerFlags = {
  peer: Flags.string({
    char: 'p',
    env: 'GDS_PEER',
    multiple: true,
    description: 'Instead of the registry, ask this node (any peer of the cluster; repeat or comma-separate to try several in turn) where the providers are: works while the registry is down.',
    helpValue: 'MULTIADDR'
  })
}

/** The data dir of a `gds cluster` (up, status, down): the same flag on each. */
export const clusterDirFlag = Flags.string({ char: 'd', description: 'Folder of the cluster: every member\'s data and its cluster.json. [default: $XDG_STATE_HOME/gds/cluster]', helpValue: 'DIR' })

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "10m", "2h", "30s", "1d" ago, or an ISO time → epoch ms. */
export function parseSince (text: string, now: number): number {
  const rel = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text.trim())
  if (rel !== null) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new InvalidParamsError(`--since takes a duration like 10m, 2h, 30s, or a time like 2026-11-22T14:00:00Z (got "${text}")`)
  return t
}
