#!/usr/bin/env node
import '../dist/polyfills.js'
// oclif's subpath, not its index: the index checks the node version with semver at load time,
// 50 more modules (a fifth of a cold command's CJS loading) read and compiled by every command.
// Commands import '@oclif/core/flags', '/command', '/args' for the same reason.
import { execute } from '@oclif/core/execute'

await execute({ dir: import.meta.url })
