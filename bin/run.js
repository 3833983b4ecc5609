#!/usr/bin/env node
import '../dist/polyfills.js'
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
