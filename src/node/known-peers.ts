import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { KNOWN_PEERS } from './config.js'
import type { ProviderRecord } from './schemas.js'

/**
 * The peers a client learnt from the registry, per registry list (the text of `--registry` or
 * GDS_REGISTRY: two clusters never mix), newest first. Only the registry's answers are kept, and
 * every address is pinned by its /p2p/ id, so a remembered peer is one the registry vouched for.
 */
const entry = z.strictObject({ at: z.number(), peers: z.array(z.string().min(1).max(1024)).max(KNOWN_PEERS.perRegistry) })
const book = z.record(z.string().max(4096), entry).refine(b => Object.keys(b).length <= KNOWN_PEERS.registries)
export type KnownPeers = z.infer<typeof book>

/** The address to dial an up record's peer at, pinned by its id (undefined: nothing to dial). */
export function peerAddr (r: ProviderRecord): string | undefined {
  if (r.status !== 'up') return undefined
  const addr = r.addrs.find(a => a.includes('/tcp/'))
  if (addr === undefined) return undefined
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${r.peerId}`
}

/**
 * `book` with `peers` (newest first) in front of what `registry` had, both capped; `known`
 * itself when that changes nothing (the same peers, and `registry` already the most recently
 * used: only the order of `at` matters, for eviction), so the caller can skip the write.
 */
export function remember (known: KnownPeers, registry: string, peers: readonly string[], now: number): KnownPeers {
  if (peers.length === 0) return known
  const had = known[registry]
  const merged = [...new Set([...peers, ...(had?.peers ?? [])])].slice(0, KNOWN_PEERS.perRegistry)
  if (had !== undefined && sameList(merged, had.peers) && Object.values(known).every(e => e.at <= had.at)) return known
  const others = Object.entries(known).filter(([k]) => k !== registry).sort(([, a], [, b]) => b.at - a.at).slice(0, KNOWN_PEERS.registries - 1)
  return Object.fromEntries([[registry, { at: now, peers: merged }], ...others])
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export function recall (known: KnownPeers, registry: string): string[] {
  return known[registry]?.peers.slice(0, KNOWN_PEERS.tried) ?? []
}

/** The file's book; a missing, oversized or malformed file is an empty one (it is a cache). */
export async function readKnownPeers (file: string): Promise<KnownPeers> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return {}
  }
  if (text.length > KNOWN_PEERS.maxFileBytes) return {}
  try {
    const parsed = book.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : {}
  } catch {
    return {}
  }
}

/** Written whole and renamed into place: a crash mid-write leaves the old file, not half of one. */
export async function writeKnownPeers (file: string, known: KnownPeers): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(known), { mode: 0o600 })
  await rename(tmp, file)
}

/** Remembers `peers` for `registry` in the file, rewriting it only when its book changes. */
export async function updateKnownPeers (file: string, registry: string, peers: readonly string[], now: number): Promise<void> {
  const known = await readKnownPeers(file)
  const updated = remember(known, registry, peers, now)
  if (updated !== known) await writeKnownPeers(file, updated)
}
