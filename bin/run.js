#!/usr/bin/env node
import '../dist/polyfills.js'
// oclif's subpath, not its index: the index checks the node version with semver at load time,
// 51 of the 158 CJS modules every command read and compiled. Commands import
// '@oclif/core/flags', '/command', '/args' and '/help' for the same reason.
import { execute } from '@oclif/core/execute'

await execute({ dir: import.meta.url })
