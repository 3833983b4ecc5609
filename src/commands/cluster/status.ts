import { resolve } from 'node:path'
import { GdsCommand } from '../../cli/base.js'
import { clusterStatusView } from '../../cli/cluster.js'
import { clusterDirFlag } from '../../cli/flags.js'
import { readClusterState, type ClusterState } from '../../cluster/state.js'
import { clusterDir } from '../../node/config.js'

export default class ClusterStatus extends GdsCommand<ClusterState> {
  static override summary = 'Show the members of the cluster "gds cluster up" runs: pids, state, restarts.'
  static override description = `Reads <data dir>/cluster.json, which a running "gds cluster up" keeps current.
Exit code 1 when no cluster runs from that data dir. For the services' health, use "gds status".`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --data-dir ./cluster-data --json']

  static override flags = { 'data-dir': clusterDirFlag }

  async run (): Promise<ClusterState> {
    const { flags } = await this.parse(ClusterStatus)
    return readClusterState(resolve(flags['data-dir'] ?? clusterDir()))
  }

  protected override render (state: ClusterState): string {
    return clusterStatusView(state, Date.now())
  }
}
