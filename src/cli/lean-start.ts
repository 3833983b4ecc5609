import { readArgv } from './argv.js'
import { JSON_FLAGS } from './common-flags.js'
import { reportFailure } from './failure.js'
import { LineBatcher } from './line-batcher.js'
import { NODE_START_FLAGS, nodeStartFeed } from './node-start.js'
import { printFeed } from './output.js'

const FLAGS = { ...NODE_START_FLAGS, ...JSON_FLAGS }

/**
 * `gds node start` (and each member `gds cluster up` starts) without oclif: a node runs for hours,
 * and oclif's runtime would stay loaded all that time for a parse done once. It prints what the
 * command prints, its failures as the command does (GdsCommand), and returns false, having done
 * nothing, for any argv it is not sure to read as oclif does (`--help`, a mistake): bin/run.js
 * then gives it to oclif, whose help and error messages are every command's.
 */
export async function leanStart (argv: readonly string[]): Promise<boolean> {
  const flags = readArgv(FLAGS, argv, process.env)
  if (flags === undefined) return false
  // oclif's --json: the flag, or <BIN>_CONTENT_TYPE=json.
  const json = flags.json || process.env.GDS_CONTENT_TYPE?.toLowerCase() === 'json'
  // As under oclif: a closed stdout (`| head`) is not the node's failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })
  const out = new LineBatcher(chunk => { process.stdout.write(chunk) })
  const flush = (): void => { out.flush() }
  process.on('exit', flush)
  try {
    await printFeed(await nodeStartFeed(flags, json), json, line => { out.push(line) })
  } catch (err) {
    const code = reportFailure(err as Error, json, line => { out.push(line) }, line => { process.stderr.write(`${line}\n`) })
    out.flush()
    process.exit(code)
  } finally {
    process.off('exit', flush)
    flush()
  }
  return true
}
