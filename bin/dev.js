#!/usr/bin/env node
// Runs the compiled CLI like bin/run.js but in oclif's development mode (more verbose errors).
import '../dist/polyfills.js'
import { execute } from '@oclif/core/execute'

await execute({ development: true, dir: import.meta.url })
