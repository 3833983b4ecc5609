#!/usr/bin/env node
import '../dist/polyfills.js'
import { runLean } from '../dist/cli/lean.js'

// `node start` and `status` run without oclif (see src/cli/lean.ts); help and mistakes go to oclif.
if (!await runLean(process.argv.slice(2))) {
  // oclif's subpath, not its index: the index checks the node version with semver at load time,
  // 51 of the 158 CJS modules every command read and compiled. Commands import
  // '@oclif/core/flags', '/command', '/args' and '/help' for the same reason.
  const { execute } = await import('@oclif/core/execute')
  await execute({ dir: import.meta.url })
}
