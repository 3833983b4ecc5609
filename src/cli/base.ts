import { Command, Flags } from '@oclif/core'
import { isGdsError } from '../node/errors.js'

/** Exit codes of every gds command (DESIGN.md §8). */
export const EXIT = { ok: 0, failed: 1, unreachable: 2 } as const

/**
 * The base of every gds command: shared flags, and one place that turns errors into a single
 * line (or one JSON object under --json) and an exit code. Never a stack trace for a user's
 * mistake; GDS_DEBUG=1 shows one for ours.
 */
export abstract class GdsCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print machine-readable JSON on stdout (logs stay on stderr).', default: false })
  }

  protected override async catch (err: Error & { exitCode?: number, oclif?: { exit?: number } }): Promise<unknown> {
    // `name` is the discriminator, as in libp2p; the bundled client's classes are copies.
    const gds = isGdsError(err)
    // oclif's own errors (bad flags, --help, exit) keep oclif's handling and exit codes.
    if (!gds) {
      if (err.oclif !== undefined || err.exitCode !== undefined) return super.catch(err)
      if (process.env.GDS_DEBUG !== undefined) this.logToStderr(err.stack ?? String(err))
    }
    const code = err.name === 'RegistryUnreachableError' ? EXIT.unreachable : EXIT.failed
    const wire = gds ? err.toWire() : { name: err.name, code: 'INTERNAL', message: err.message }
    if (this.argv.includes('--json')) process.stdout.write(JSON.stringify({ error: wire }) + '\n')
    else this.logToStderr(`Error: ${err.message}`)
    this.exit(code)
  }
}

/** Flags of commands that talk to a registry. */
export const registryFlags = {
  registry: Flags.string({
    char: 'r',
    env: 'GDS_REGISTRY',
    description: 'Multiaddr of the registry; add /p2p/<peer id> to pin its identity (the only safe form across machines). [default: /ip4/127.0.0.1/tcp/4001]',
    helpValue: 'MULTIADDR'
  }),
  'swarm-key': Flags.string({
    env: 'GDS_SWARM_KEY',
    description: 'Path of a private-network key (see "gds swarm-key generate"); peers without the same key cannot connect.',
    helpValue: 'FILE'
  })
}

/** Accepts "a,b" and repeated flags alike. */
export function splitList (values: string[] | undefined): string[] {
  return (values ?? []).flatMap(v => v.split(',')).map(v => v.trim()).filter(v => v !== '')
}
