import { join } from 'node:path'
import { Flags } from '@oclif/core'
import { GdsCommand } from '../../cli/base.js'
import { clusterLine, type ClusterItem } from '../../cli/cluster.js'
import { Feed } from '../../cli/output.js'
import { stopOnSignal } from '../../cli/signals.js'
import { REGISTRY_PORT, stateDir } from '../../node/config.js'
import type { MemberSpec } from '../../cluster/supervisor.js'

/** What `cluster up` starts besides the registry: the log, N grading instances sharing one database, the web UI. */
export function members (grading: number, dataDir: string, httpPort: number, host: string): MemberSpec[] {
  const db = join(dataDir, 'grading.db')
  return [
    { role: 'log', name: 'log' },
    ...Array.from({ length: grading }, (_, i) => ({ role: 'grading', name: grading === 1 ? 'grading' : `grading-${i + 1}`, args: ['--db', db] })),
    // The web UI binds --host like every member: beyond loopback it then asks for a token.
    { role: 'webui', name: 'webui', args: ['--http-port', String(httpPort), '--http-host', host] }
  ]
}

export default class ClusterUp extends GdsCommand<Feed<ClusterItem>> {
  static override summary = 'Start the whole system on this machine: the registry and every role, one process each.'
  static override description = `Each member is a separate "gds node start" process with its data under --data-dir/<name>.
Prints where each listens and follows their health; Ctrl-C stops them all gracefully (services
first, the registry last). Look at it from another terminal with "gds status".`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --grading 2', '<%= config.bin %> <%= command.id %> --data-dir ./cluster-data --port 4101']

  static override flags = {
    'data-dir': Flags.string({ char: 'd', description: 'Folder for every member\'s data. [default: $XDG_STATE_HOME/gds/cluster]', helpValue: 'DIR' }),
    port: Flags.integer({ char: 'p', description: 'Registry port.', default: REGISTRY_PORT, min: 0, max: 65535 }),
    host: Flags.string({ description: 'IPv4 address every member listens on, the web UI included (beyond loopback it prints a sign-in link).', default: '127.0.0.1' }),
    'http-port': Flags.integer({ description: 'Port of the web UI.', default: 8080, min: 1, max: 65535 }),
    grading: Flags.integer({ description: 'Grading instances (they share one database), to see load balancing and failover.', default: 1, min: 1, max: 16 })
  }

  async run (): Promise<Feed<ClusterItem>> {
    const { flags } = await this.parse(ClusterUp)
    const { Supervisor } = await import('../../cluster/supervisor.js')
    const dataDir = flags['data-dir'] ?? join(stateDir(), 'cluster')
    const roles = members(flags.grading, dataDir, flags['http-port'], flags.host)
    const supervisor = new Supervisor({ dataDir, host: flags.host, registryPort: flags.port, members: roles })
    const defaultRegistry = flags.port === REGISTRY_PORT && flags.host === '127.0.0.1'
    return new Feed(async emit => {
      supervisor.on('event', e => { emit({ ...e, ts: Date.now() }) })
      const stopped = stopOnSignal(async () => {
        this.log('stopping the cluster...')
        await supervisor.stop()
      })
      await supervisor.start()
      // Bound to every address, the web UI is opened at loopback here (browsers refuse 0.0.0.0).
      const webHost = flags.host === '0.0.0.0' ? '127.0.0.1' : flags.host
      emit({ event: 'cluster-up', registry: supervisor.registry ?? '', web: `http://${webHost}:${flags['http-port']}/`, members: roles.length + 1, ts: Date.now() })
      await stopped
    }, e => clusterLine(e, defaultRegistry))
  }
}
