import { isGdsError } from '../node/errors.js'
import { safeText } from '../node/safe-text.js'
import { jsonLine } from './output.js'

/** Exit codes of every gds command (DESIGN.md §10). */
export const EXIT = { ok: 0, failed: 1, unreachable: 2 } as const

/**
 * A command's failure as the one thing a user reads: under --json one JSON error object for
 * stdout (`out`), else one line for stderr (`err`); never a stack trace for a user's mistake
 * (GDS_DEBUG=1 prints one for ours). Returns the exit code.
 */
export function reportFailure (error: Error, json: boolean, out: (line: string) => void, err: (line: string) => void): number {
  // `name` is the discriminator, as in libp2p; the bundled client's classes are copies.
  const gds = isGdsError(error)
  if (!gds && process.env.GDS_DEBUG !== undefined) process.stderr.write(`${error.stack ?? String(error)}\n`)
  const wire = gds ? error.toWire() : { name: error.name, code: 'INTERNAL', message: error.message }
  if (json) out(jsonLine({ error: wire }))
  else err(`Error: ${safeText(error.message)}`)
  return error.name === 'RegistryUnreachableError' ? EXIT.unreachable : EXIT.failed
}
