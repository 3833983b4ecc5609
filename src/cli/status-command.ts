import type { FlagSpecs, FlagValues } from './argv.js'
import { REGISTRY_FLAGS, splitList } from './common-flags.js'
import type { LeanCommand } from './lean.js'
import type { Feed } from './output.js'
import { statusView, toStatusJson, type StatusFilter, type StatusJson } from './status.js'
import { withClient } from './with-client.js'
import { UsageError } from '../node/errors.js'
import { HEALTH_WORDS, type Health } from '../node/health.js'
import type { ListResult, WatchMessage } from '../node/schemas.js'

/** `gds status`'s flags, once: the command declares oclif's from them, bin/run.js reads argv with them (lean.ts). */
export const STATUS_FLAGS = {
  ...REGISTRY_FLAGS,
  timeout: { type: 'integer', description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' },
  peer: { type: 'string', char: 'p', description: 'Ask this node (any peer, not the registry) for its own view of the catalogue: works while the registry is down.', helpValue: 'MULTIADDR', exclusive: ['watch'] },
  service: { type: 'string', char: 's', description: 'Only this service name (repeat or comma-separate).', multiple: true, helpValue: 'NAME', exclusive: ['watch'] },
  status: { type: 'string', description: `Only providers in this health (repeat or comma-separate): ${HEALTH_WORDS.join(', ')}. degraded: up, but a name it requires has no up provider.`, multiple: true, helpValue: 'WORD', exclusive: ['watch'] },
  watch: { type: 'boolean', char: 'w', description: 'Follow the cluster live: a full-screen view on a terminal, one line per event when piped (--json: one watch message per line).', default: false }
} as const satisfies FlagSpecs

/** The catalogue as listed, and the part of it asked for. */
export interface Listed { list: ListResult, filter: StatusFilter }

/** The catalogue once, or with --watch its changes as they come. */
export async function status (flags: FlagValues<typeof STATUS_FLAGS>, json: boolean): Promise<Listed | Feed<WatchMessage>> {
  const health = splitList(flags.status)
  const unknown = health.filter(h => !(HEALTH_WORDS as readonly string[]).includes(h))
  if (unknown.length > 0) throw new UsageError(`--status takes ${HEALTH_WORDS.join(', ')} (got "${unknown.join(', ')}")`)
  const filter = { services: splitList(flags.service), health: health as Health[] }
  if (flags.watch) {
    // Loaded only here: the watch view brings the wire schemas (zod, multiaddr) unbundled, about
    // a third of a one-shot `gds status`'s start-up; the list itself decodes in the bundled client.
    const { watchFeed } = await import('./watch.js')
    return watchFeed({ ...flags, timeoutMs: flags.timeout, askRemembered: false }, json)
  }
  const list = await withClient({ ...flags, peer: flags.peer === undefined ? undefined : [flags.peer], timeoutMs: flags.timeout, askRemembered: false }, async client => client.list())
  return { list, filter }
}

/** What `gds status` prints of a listing: the script contract under --json, else the table. */
export function printedStatus ({ list, filter }: Listed): { json: StatusJson, text: () => string } {
  return { json: toStatusJson(list, filter), text: () => statusView(list, Date.now(), filter) }
}

/** `gds status` as bin/run.js runs it without oclif. */
export const STATUS: LeanCommand<typeof STATUS_FLAGS> = {
  flags: STATUS_FLAGS,
  run: async (flags, json) => {
    const result = await status(flags, json)
    return 'list' in result ? printedStatus(result) : result
  }
}
