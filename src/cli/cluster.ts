import type { ClusterEvent } from '../cluster/supervisor.js'
import { formatEvent, pickAddr, shortId } from './format.js'

/** What `gds cluster up` yields: its members' events, then one `cluster-up` when all are up. */
export type ClusterItem =
  | ClusterEvent & { ts: number }
  | { event: 'cluster-up', registry: string, web: string, members: number, ts: number }

/**
 * The human lines of `gds cluster up`. `defaultRegistry`: the registry is where the other
 * commands look without --registry, so the hints need none.
 */
export function clusterLine (e: ClusterItem, defaultRegistry: boolean): string | undefined {
  switch (e.event) {
    case 'member-listening':
      return `${e.name.padEnd(10)} pid ${e.pid}  ${shortId(e.peerId)}  ${pickAddr(e.addrs)}`
    case 'member-exited':
      return e.expected ? undefined : `${e.name.padEnd(10)} exited (${e.signal ?? `code ${e.code}`})${e.lastError === undefined ? '' : `: ${e.lastError}`}`
    case 'member-event':
      // A portal beyond loopback has a token: its sign-in link is for the person who started it.
      if (e.detail.event === 'serving' && e.detail.login !== undefined) return `${e.name.padEnd(10)} sign in (once per browser): ${e.detail.login}`
      // The registry sees every status change; the members' own events would repeat them.
      return e.name === 'registry' && e.detail.event.startsWith('provider-') ? `${'registry'.padEnd(10)} ${formatEvent(e.detail).slice(13)}` : undefined
    case 'cluster-up': {
      const r = defaultRegistry ? '' : ` --registry ${e.registry}`
      return [
        `\ncluster up: registry ${e.registry}`,
        `  web UI:  ${e.web}  (grades)   ${e.web}cluster  (live cluster page)`,
        '  from another terminal:',
        ...['gds status', 'gds grades list', 'gds logs --follow'].map(cmd => `    ${cmd}${r}`),
        '  Ctrl-C stops every member\n'
      ].join('\n')
    }
  }
}
