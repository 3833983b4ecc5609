import { readFile } from 'node:fs/promises'
import { InvalidConfigError } from './errors.js'

/** The contents of a private network's swarm key file; none for an open network. */
export async function readSwarmKey (path: string | undefined): Promise<Uint8Array | undefined> {
  if (path === undefined) return undefined
  try {
    return await readFile(path)
  } catch (err: any) {
    throw new InvalidConfigError(`cannot read swarm key ${path}: ${err?.code === 'ENOENT' ? 'no such file' : err?.message}`)
  }
}
