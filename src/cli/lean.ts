import { readArgv, type FlagSpecs, type FlagValues } from './argv.js'
import { JSON_FLAGS } from './common-flags.js'
import { reportFailure } from './failure.js'
import { LineBatcher } from './line-batcher.js'
import { Feed, jsonLine, outputLine, printFeed } from './output.js'

/** A result printed once: what --json prints of it, and what a person reads (nothing when undefined). */
export interface Printed { json: unknown, text: () => string | undefined }

/** A command bin/run.js can run without oclif: its flags (oclif's are built from them) and what it does with them. */
export interface LeanCommand<S extends FlagSpecs> {
  readonly flags: S
  run: (flags: FlagValues<S & typeof JSON_FLAGS>, json: boolean) => Promise<Feed<any> | Printed>
}

/**
 * Commands run without oclif: a node runs for hours, and oclif's runtime would stay loaded all
 * that time for a parse done once (~4 MB of private memory); `gds status` is what scripts and
 * people run most, and loading oclif was a third of its CPU.
 */
const COMMANDS: Record<string, () => Promise<LeanCommand<any>>> = {
  'node start': async () => (await import('./node-start.js')).NODE_START,
  status: async () => (await import('./status-command.js')).STATUS
}

/**
 * Runs argv's command as the oclif command of that id would (its output, its failures as
 * GdsCommand reports them), or returns false, having done nothing, when the command is not one of
 * these or argv is not one it is sure to read as oclif does (`--help`, a mistake): bin/run.js then
 * gives it to oclif, whose help and error messages are every command's.
 */
export async function runLean (argv: readonly string[]): Promise<boolean> {
  const id = Object.keys(COMMANDS).find(id => id.split(' ').every((word, i) => argv[i] === word))
  if (id === undefined) return false
  const command = await COMMANDS[id]()
  const flags = readArgv({ ...command.flags, ...JSON_FLAGS }, argv.slice(id.split(' ').length), process.env)
  if (flags === undefined) return false
  // oclif's --json: the flag, or <BIN>_CONTENT_TYPE=json.
  const json = flags.json === true || process.env.GDS_CONTENT_TYPE?.toLowerCase() === 'json'
  // As under oclif: a closed stdout (`| head`) is not the command's failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })
  const out = new LineBatcher(chunk => { process.stdout.write(chunk) })
  const push = (line: string | undefined): void => { if (line !== undefined) out.push(line) }
  const flush = (): void => { out.flush() }
  process.on('exit', flush)
  try {
    const result = await command.run(flags, json)
    if (result instanceof Feed) await printFeed(result, json, push)
    else push(outputLine(json ? jsonLine(result.json) : result.text(), json))
  } catch (err) {
    const code = reportFailure(err as Error, json, push, line => { process.stderr.write(`${line}\n`) })
    out.flush()
    process.exit(code)
  } finally {
    process.off('exit', flush)
    flush()
  }
  return true
}
