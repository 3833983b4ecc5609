import type { ClusterState } from '../cluster/state.js'
import type { ClusterEvent } from '../cluster/supervisor.js'
import { age, formatEvent, pickAddr, shortId, table } from './format.js'

/** What `gds cluster up` yields: its members' events, then one `cluster-up` when all are up. */
export type ClusterItem =
  | ClusterEvent & { ts: number }
  | { event: 'cluster-up', registry: string, web: string, members: number, dataDir: string, failed: string[], ts: number }

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`

/**
 * The human lines of `gds cluster up`. `defaults`: the registry (or data dir) is where the other
 * commands look without --registry (or --data-dir), so the hints need no flag.
 */
export function clusterLine (e: ClusterItem, defaults: { registry: boolean, dataDir: boolean }): string | undefined {
  const who = (name: string): string => name.padEnd(10)
  switch (e.event) {
    case 'member-listening':
      return `${who(e.name)} pid ${e.pid}  ${e.peerId === undefined ? '' : `${shortId(e.peerId)}  `}${pickAddr(e.addrs)}${e.restarts > 0 ? `  (restart ${e.restarts})` : ''}`
    case 'member-exited': {
      if (e.expected) return undefined
      const exit = `${who(e.name)} exited (${e.signal ?? `code ${e.code}`})${e.lastError === undefined ? '' : `: ${e.lastError}`}`
      return e.restartInMs === undefined ? exit : `${exit}; restarting in ${seconds(e.restartInMs)} (${e.attempt}/${e.maxRestarts})`
    }
    case 'member-gave-up':
      return `${who(e.name)} restarted ${e.restarts} times within ${seconds(e.windowMs)}; giving up on it. To start it by hand (same data):\n    ${e.command}`
    case 'member-event':
      // A portal beyond loopback has a token: its sign-in link is for the person who started it.
      if (e.detail.event === 'serving' && e.detail.login !== undefined) return `${e.name.padEnd(10)} sign in (once per browser): ${e.detail.login}`
      // Every registry says when it loses or regains etcd: the cluster's store is its health.
      if (e.detail.event === 'store-state') return `${who(e.name)} ${formatEvent(e.detail).slice(13)}`
      // The (first) registry sees every status change; the members' and the other registries' would repeat them.
      return e.name === 'registry' && e.detail.event.startsWith('provider-') ? `${who('registry')} ${formatEvent(e.detail).slice(13)}` : undefined
    case 'cluster-up': {
      const r = defaults.registry ? '' : ` --registry ${e.registry}`
      const d = defaults.dataDir ? '' : ` -d ${e.dataDir}`
      return [
        `\ncluster up: ${e.registry.includes(',') ? 'registries' : 'registry'} ${e.registry}`,
        ...(e.failed.length > 0 ? [`  not running (--keep-going; retried with back-off): ${e.failed.join(', ')}`] : []),
        `  web UI:  ${e.web}  (grades)   ${e.web}cluster  (live cluster page)`,
        '  from another terminal:',
        ...['gds status', 'gds grades list', 'gds logs --follow'].map(cmd => `    ${cmd}${r}`),
        ...['gds cluster status', 'gds cluster down'].map(cmd => `    ${cmd}${d}`),
        '  Ctrl-C stops every member\n'
      ].join('\n')
    }
  }
}

/** What `gds cluster status` prints: who supervises, then one row per member. */
export function clusterStatusView (s: ClusterState, now: number): string {
  const rows = s.members.map(m => [m.name, m.role, m.pid === undefined ? '-' : String(m.pid), m.state, String(m.restarts), `${age(Math.max(0, now - m.since))} ago`])
  return [
    `cluster supervised by process ${s.pid} from ${s.dataDir}, up ${age(Math.max(0, now - s.startedAt))}`,
    ...(s.registry === undefined ? [] : [`  registry ${s.registry}`]),
    ...(s.web === undefined ? [] : [`  web UI   ${s.web}`]),
    table(['NAME', 'ROLE', 'PID', 'STATE', 'RESTARTS', 'SINCE'], rows)
  ].join('\n')
}
