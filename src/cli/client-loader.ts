import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCached } from './code-cache.js'
import { cacheDir } from '../node/config.js'

/**
 * The registry client for the CLI's commands: one CommonJS bundle (scripts/bundle.js), run
 * through V8's code cache, kept in the user's cache dir (code-cache.ts): a cold `gds status`
 * spends about a quarter less CPU than compiling the client's ESM chunks afresh.
 */
export async function loadClient (): Promise<typeof import('../node/client.js')> {
  const file = fileURLToPath(new URL('../bundle/cli-client.cjs', import.meta.url))
  const client = loadCached<typeof import('../node/client.js')>(file, join(cacheDir(), 'cli-client.v8'))
  process.once('exit', client.saveCache)
  return client.exports
}

/**
 * What `gds node start` runs, from the bundles the build makes (scripts/bundle.js): loading
 * libp2p as a few chunks instead of a few hundred modules starts a node faster, and takes an
 * idle node from ~83 MB to ~60 MB of RSS.
 */
export async function loadRuntime (): Promise<typeof import('../runtime.js')> {
  return import(new URL('../bundle/runtime.js', import.meta.url).href) as Promise<typeof import('../runtime.js')>
}
