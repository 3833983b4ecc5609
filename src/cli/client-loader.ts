/**
 * The registry client, from the single-file bundle the build makes of src/node/client.ts
 * (package.json "build"): loading libp2p as one file instead of a few hundred modules takes a
 * one-shot command like `gds status` from ~700 ms to ~350 ms on a cold start.
 */
export async function loadClient (): Promise<typeof import('../node/client.js')> {
  const bundle = new URL('../bundle/client.js', import.meta.url).href
  return import(bundle) as Promise<typeof import('../node/client.js')>
}
