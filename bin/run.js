#!/usr/bin/env node
import '../dist/polyfills.js'

// A node runs for hours: it reads its flags without oclif, whose runtime would stay loaded
// (~5 MB of private memory) for a parse done once. Help and mistakes still go to oclif.
const argv = process.argv.slice(2)
const lean = argv[0] === 'node' && argv[1] === 'start' && await (await import('../dist/cli/lean-start.js')).leanStart(argv.slice(2))
if (!lean) {
  // oclif's subpath, not its index: the index checks the node version with semver at load time,
  // 51 of the 158 CJS modules every command read and compiled. Commands import
  // '@oclif/core/flags', '/command', '/args' and '/help' for the same reason.
  const { execute } = await import('@oclif/core/execute')
  await execute({ dir: import.meta.url })
}
