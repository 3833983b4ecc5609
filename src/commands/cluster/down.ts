import { resolve } from 'node:path'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { clusterDirFlag } from '../../cli/flags.js'
import { readClusterState } from '../../cluster/state.js'
import { clusterDir } from '../../node/config.js'
import { RequestTimeoutError, UnauthorizedError } from '../../node/errors.js'
import { isAlive } from '../../node/pid.js'

interface Stopped { stopped: true, pid: number, dataDir: string, members: string[] }

export default class ClusterDown extends GdsCommand<Stopped> {
  static override summary = 'Stop the cluster "gds cluster up" runs, from another terminal.'
  static override description = `Signals the supervisor named in <data dir>/cluster.json (SIGTERM), which stops the members
as Ctrl-C would (services first, the registry last), and waits until it has exited.
Exit code 1 when no cluster runs from that data dir.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --data-dir ./cluster-data']

  static override flags = {
    'data-dir': clusterDirFlag,
    timeout: Flags.integer({ description: 'ms to wait for the cluster to stop.', default: 60_000, min: 100, helpValue: 'MS' })
  }

  async run (): Promise<Stopped> {
    const { flags } = await this.parse(ClusterDown)
    const state = await readClusterState(resolve(flags['data-dir'] ?? clusterDir()))
    try {
      process.kill(state.pid, 'SIGTERM')
    } catch (err: any) {
      if (err?.code !== 'EPERM') throw err
      throw new UnauthorizedError(`the cluster's supervisor (process ${state.pid}) belongs to another user: run "gds cluster down" as that user`)
    }
    const deadline = Date.now() + flags.timeout
    while (isAlive(state.pid)) {
      if (Date.now() > deadline) {
        const pids = state.members.flatMap(m => m.pid === undefined ? [] : [m.pid])
        throw new RequestTimeoutError(`the cluster's supervisor (process ${state.pid}) did not stop within ${flags.timeout} ms: kill it (kill -9 ${state.pid}) and its members (${pids.join(' ')})`)
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return { stopped: true, pid: state.pid, dataDir: state.dataDir, members: state.members.map(m => m.name) }
  }

  protected override render (s: Stopped): string {
    return `cluster stopped: ${s.members.join(', ')} (supervisor ${s.pid}, ${s.dataDir})`
  }
}
