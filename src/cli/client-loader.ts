/**
 * The library, from the bundles the build makes (scripts/bundle.js): loading libp2p as a few
 * minified chunks instead of a few hundred modules takes a one-shot command like `gds status`
 * from ~700 ms to ~300 ms on a cold start, and an idle node from ~83 MB to ~60 MB of RSS.
 */
export async function loadClient (): Promise<typeof import('../node/client.js')> {
  return import(new URL('../bundle/client.js', import.meta.url).href) as Promise<typeof import('../node/client.js')>
}

export async function loadRuntime (): Promise<typeof import('../runtime.js')> {
  return import(new URL('../bundle/runtime.js', import.meta.url).href) as Promise<typeof import('../runtime.js')>
}
