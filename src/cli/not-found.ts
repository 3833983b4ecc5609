import type { Hook } from '@oclif/core'
import { UsageError } from '../node/errors.js'

/**
 * oclif joins extra words into the command id (`gds status extra` looks for `status:extra`):
 * when a prefix is a command, the rest are arguments it does not take. Anything else is an
 * unknown command. Both are usage errors: one line, exit 1.
 */
const hook: Hook<'command_not_found'> = async function (opts) {
  const words = opts.id.split(':')
  for (let n = words.length - 1; n > 0; n--) {
    const id = words.slice(0, n).join(':')
    const cmd = opts.config.findCommand(id)
    if (cmd === undefined) continue
    const extra = words.slice(n)
    const takes = Object.keys(cmd.args ?? {})
    const name = `gds ${words.slice(0, n).join(' ')}`
    fail(new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.join(' ')} (${name} takes ${takes.length === 0 ? 'none' : takes.join(', ').toUpperCase()}; see "${name} --help")`), opts.argv)
  }
  fail(new UsageError(`unknown command "${words.join(' ')}" (see "gds --help")`), opts.argv)
}

function fail (err: UsageError, argv: string[] = []): never {
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: err.toWire() })}\n`)
  else process.stderr.write(`Error: ${err.message}\n`)
  process.exit(1)
}

export default hook
