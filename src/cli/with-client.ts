import { loadClient } from './client-loader.js'
import type { RegistryClient } from '../node/client.js'

/** Runs `fn` with a connected registry client, and closes it whatever happens. */
export async function withClient<T> (flags: { registry?: string, 'swarm-key'?: string }, fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  const { RegistryClient } = await loadClient()
  const client = await RegistryClient.connect({ registry: flags.registry, swarmKeyFile: flags['swarm-key'] })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}
