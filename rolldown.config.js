// The build's bundles (after tsc): the node runtime, the public API and the registry client
// share chunks, so a `--role ./module.js` that imports 'gds' gets the same copy the node runs.
import { defineConfig } from 'rolldown'

export default defineConfig({
  input: {
    runtime: 'dist/node/runtime.js',
    client: 'dist/node/client.js',
    index: 'dist/index.js'
  },
  platform: 'node',
  // A native addon, and modules that resolve files of their own at run time, stay packages.
  external: ['better-sqlite3', 'pino', 'fastify', '@fastify/formbody'],
  logLevel: 'warn',
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    minify: true,
    // Error classes are told apart by name, on the wire and in the CLI.
    keepNames: true,
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
    cleanDir: true
  }
})
