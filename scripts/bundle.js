#!/usr/bin/env node
// The build's bundles (after tsc): the node runtime and the public API as chunks they share, so
// a process loads one copy of libp2p instead of a few hundred modules (an idle node's RSS falls
// from ~83 to ~69 MB), and a `--role ./module.js` that imports 'gds' gets the very copy the node
// runs; and the CLI's registry client (below).
import { build } from 'rolldown'

// A native addon, and packages that resolve files of their own at run time, stay packages.
const external = ['better-sqlite3', 'pino', 'fastify', '@fastify/formbody', 'etcd3', 'cockatiel']

await build({
  input: {
    runtime: 'dist/runtime.js',
    index: 'dist/index.js'
  },
  platform: 'node',
  external,
  logLevel: 'warn',
  output: {
    dir: 'dist/bundle',
    cleanDir: true,
    format: 'esm',
    // Not minified: for an uncaught error node prints the source line it was thrown from, and a
    // minified chunk is one line of a few hundred kilobytes. Dead code is still dropped, and so
    // are comments, most of what minifying saved (loaded, the heap is ~0.7 MB above a minified
    // build's instead of ~2).
    minify: 'dce-only',
    comments: false,
    // Errors are told apart by name, on the wire and in the CLI.
    keepNames: true,
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js'
  }
})

// The CLI's registry client, alone and as one CommonJS file: the commands run it through V8's code
// cache (src/cli/code-cache.ts), which Node 20 has for scripts, not for ES modules.
await build({
  input: { 'cli-client': 'dist/node/client.js' },
  platform: 'node',
  external,
  logLevel: 'warn',
  output: {
    dir: 'dist/bundle',
    format: 'cjs',
    codeSplitting: false,
    minify: 'dce-only',
    comments: false,
    keepNames: true,
    sourcemap: true,
    entryFileNames: '[name].cjs'
  }
})
