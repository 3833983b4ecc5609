import { join, resolve } from 'node:path'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { clusterLine, type ClusterItem } from '../../cli/cluster.js'
import { clusterDirFlag } from '../../cli/flags.js'
import { Feed } from '../../cli/output.js'
import { stopOnSignal } from '../../cli/signals.js'
import { DEFAULT_HTTP_PORT, MAX_CLUSTER_REGISTRIES, REGISTRY_PORT, clusterDir } from '../../node/config.js'
import type { MemberSpec } from '../../cluster/supervisor.js'

/** What `cluster up` starts besides the registry: the log, N grading instances sharing one database, the web UI. */
export function members (grading: number, dataDir: string, httpPort: number, host: string): MemberSpec[] {
  const db = join(dataDir, 'grading.db')
  return [
    { role: 'log', name: 'log' },
    ...Array.from({ length: grading }, (_, i) => ({ role: 'grading', name: grading === 1 ? 'grading' : `grading-${i + 1}`, args: ['--db', db] })),
    // The web UI binds --host like every member (beyond loopback it then asks for a token): that is where the port must be free.
    { role: 'webui', name: 'webui', args: ['--http-port', String(httpPort), '--http-host', host], ports: [{ host, port: httpPort, flag: '--http-port' }] }
  ]
}

export default class ClusterUp extends GdsCommand<Feed<ClusterItem>> {
  static override summary = 'Start the whole system on this machine: the registry and every role, one process each.'
  static override description = `Each member is a separate "gds node start" process with its data under --data-dir/<name>.
Prints where each listens and follows their health. A member that dies is restarted with back-off
(0.5 s doubling to 8 s; after 5 restarts within 60 s it is given up on, with the command to start it
by hand). A member that fails to start fails the whole command, unless --keep-going.
Ctrl-C (or "gds cluster down" from another terminal) stops them all gracefully: services first,
the registry last. "gds cluster status" lists the members, their pids and restarts.

--registries N (N > 1) runs N registries sharing one catalogue in etcd, as on N machines: a
local etcd from PATH (Debian/Ubuntu: apt-get install etcd-server), its data and etcd.log in
--data-dir/etcd, on loopback ports picked by a hash of the data dir (so two clusters with
different data dirs do not collide; --etcd-port to choose). The registries listen on --port,
--port+1, ...; every other member is given all of them and fails over when one dies. etcd is
followed like a member: restarted if it dies, stopped last.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --grading 2', '<%= config.bin %> <%= command.id %> --registries 3', '<%= config.bin %> <%= command.id %> --data-dir ./cluster-data --port 4101']

  static override flags = {
    'data-dir': clusterDirFlag,
    port: Flags.integer({ char: 'p', description: 'Registry port (the first one\'s, with --registries: the others take the next ports; 0: any free port).', default: REGISTRY_PORT, min: 0, max: 65535 - MAX_CLUSTER_REGISTRIES }),
    registries: Flags.integer({ description: 'Registries, sharing one catalogue in a local etcd when more than one (etcd must be on PATH).', default: 1, min: 1, max: MAX_CLUSTER_REGISTRIES }),
    'etcd-port': Flags.integer({ description: 'With --registries > 1: the local etcd\'s client port (its peer port is the next one). [default: picked by a hash of --data-dir, in 20000-29999]', min: 1, max: 65534 }),
    host: Flags.string({ description: 'IPv4 address every member listens on, the web UI included (beyond loopback it prints a sign-in link).', default: '127.0.0.1' }),
    'http-port': Flags.integer({ description: 'Port of the web UI.', default: DEFAULT_HTTP_PORT, min: 1, max: 65535 }),
    grading: Flags.integer({ description: 'Grading instances (they share one database), to see load balancing and failover.', default: 1, min: 1, max: 16 }),
    'keep-going': Flags.boolean({ description: 'If a member other than the registry fails to start, go on without it (it is retried with back-off).', default: false })
  }

  async run (): Promise<Feed<ClusterItem>> {
    const { flags } = await this.parse(ClusterUp)
    const { Supervisor } = await import('../../cluster/supervisor.js')
    const dataDir = resolve(flags['data-dir'] ?? clusterDir())
    const roles = members(flags.grading, dataDir, flags['http-port'], flags.host)
    // Bound to every address, the web UI is opened at loopback (browsers refuse 0.0.0.0).
    const web = `http://${flags.host === '0.0.0.0' ? '127.0.0.1' : flags.host}:${flags['http-port']}/`
    const supervisor = new Supervisor({
      dataDir, host: flags.host, registryPort: flags.port, registries: flags.registries, etcdPort: flags['etcd-port'], members: roles, keepGoing: flags['keep-going'], web
    })
    // With several registries the hints name them all, so the commands fail over as the members do.
    const defaults = { registry: flags.registries === 1 && flags.port === REGISTRY_PORT && flags.host === '127.0.0.1', dataDir: flags['data-dir'] === undefined }
    return new Feed(async emit => {
      supervisor.on('event', e => { emit({ ...e, ts: Date.now() }) })
      const stopped = stopOnSignal(async () => {
        this.log('stopping the cluster...')
        await supervisor.stop()
      })
      await supervisor.start()
      if (!supervisor.stopped) {
        emit({ event: 'cluster-up', registry: supervisor.registry ?? '', web, members: supervisor.snapshot().members.length, dataDir, failed: supervisor.failed, ts: Date.now() })
      }
      await stopped
    }, e => clusterLine(e, defaults))
  }
}
