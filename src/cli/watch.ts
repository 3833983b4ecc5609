import { DEFAULT_REGISTRY_ADDR } from '../node/config.js'
import type { WatchMessage } from '../node/schemas.js'
import { changeEvent } from '../node/watch-view.js'
import { formatEvent, statusTable } from './format.js'
import { Feed } from './output.js'
import { abortOn } from './signals.js'
import { registryText } from './common-flags.js'
import { itemsWithClient, type ClientFlags } from './with-client.js'

/** One human line (or table) for a watch message: the snapshot's table, a change's event; figures are not news. */
export function watchLine (msg: WatchMessage): string | undefined {
  if (msg.type === 'snapshot') return statusTable(msg.services, msg.ts)
  if (msg.type !== 'change') return undefined
  const e = changeEvent(msg)
  return e === undefined ? undefined : formatEvent(e)
}

/**
 * `status --watch` and `top`: on a terminal the ink TUI, which draws the cluster itself (no
 * line reaches stdout); otherwise the registry's watch messages, one line each, until Ctrl-C.
 */
export function watchFeed (flags: ClientFlags, json: boolean): Feed<WatchMessage> {
  if (process.stdout.isTTY === true && !json) {
    return new Feed(async () => { await tui(flags) }, () => undefined)
  }
  return Feed.of(itemsWithClient(flags, client => client.watch(abortOn(['SIGINT', 'SIGTERM']))), watchLine)
}

async function tui (flags: ClientFlags): Promise<void> {
  // ink draws only a final frame when it thinks it runs in CI; this is a real terminal.
  for (const k of Object.keys(process.env)) if (k === 'CI' || k === 'CONTINUOUS_INTEGRATION' || k.startsWith('CI_')) delete process.env[k]
  const { runTui } = await import('../ui/run.js')
  await runTui({ registry: registryText(flags.registry) ?? process.env.GDS_REGISTRY ?? DEFAULT_REGISTRY_ADDR, swarmKeyFile: flags['swarm-key'], timeoutMs: flags.timeoutMs })
}
