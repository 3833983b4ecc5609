import { join } from 'node:path'
import { loadClient } from './client-loader.js'
import { registryText, splitList } from './common-flags.js'
import type { RegistryClient } from '../node/client.js'
import { KNOWN_PEERS, stateDir } from '../node/config.js'
import { safeText } from '../node/safe-text.js'

/** What a registry connection is made from: the registry flags, and how long to wait for it. */
export interface ClientFlags {
  /** One registry, or several (repeated --registry) tried in turn. */
  registry?: string | string[]
  /** Peers to ask instead of the registry (--peer, GDS_PEER), in turn. */
  peer?: string[] | string
  'swarm-key'?: string
  timeoutMs?: number
  /** Ask the peers remembered from the registry's earlier answers when no registry answers. @default true */
  askRemembered?: boolean
}

async function connect (flags: ClientFlags): Promise<RegistryClient> {
  const { RegistryClient } = await loadClient()
  const client = await RegistryClient.connect({
    registry: registryText(flags.registry),
    peers: splitList(flags.peer),
    swarmKeyFile: flags['swarm-key'],
    timeoutMs: flags.timeoutMs,
    knownPeersFile: join(stateDir(), KNOWN_PEERS.file),
    askRemembered: flags.askRemembered
  })
  // On stderr: the answer on stdout stays what a script parses, and a person sees the registry is down.
  if (client.fallback !== undefined) process.stderr.write(safeText(`warning: ${client.fallback.registryError}; asked ${client.fallback.peer} instead (named by the registry earlier)`) + '\n')
  return client
}

/** Runs `fn` with a connected registry client, and closes it whatever happens. */
export async function withClient<T> (flags: ClientFlags, fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  const client = await connect(flags)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** The items `fn` yields with a connected registry client, which is closed when they end. */
export async function * itemsWithClient<T> (flags: ClientFlags, fn: (client: RegistryClient) => AsyncIterable<T>): AsyncGenerator<T> {
  const client = await connect(flags)
  try {
    yield * fn(client)
  } finally {
    await client.close()
  }
}
