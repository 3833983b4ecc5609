// oclif writes the manifest's commands in the order its parallel directory reads finish, so each
// build reorders a committed file that did not change; sorted by id, a build rewrites it only
// when a command or flag did.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
writeFileSync(path, JSON.stringify(manifest, null, 2))
