import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { CLUSTER_STATE_FILE } from '../node/config.js'
import { ClusterNotRunningError, KeyFileError } from '../node/errors.js'
import { isAlive } from '../node/pid.js'
import { readJsonFile, writeJsonAtomic } from '../node/store.js'

export const MEMBER_STATES = ['starting', 'running', 'restarting', 'failed', 'stopped'] as const
export type MemberStateName = typeof MEMBER_STATES[number]

const memberState = z.object({
  name: z.string().max(64),
  role: z.string().max(1024),
  pid: z.number().int().positive().optional(),
  state: z.enum(MEMBER_STATES),
  restarts: z.number().int().nonnegative(),
  /** When it entered this state (epoch ms). */
  since: z.number(),
  peerId: z.string().max(128).optional()
})

/** What `cluster up` writes to <data dir>/cluster.json while it runs, for `cluster status` and `down`. */
const clusterState = z.object({
  pid: z.number().int().positive(),
  dataDir: z.string(),
  startedAt: z.number(),
  registry: z.string().optional(),
  web: z.string().optional(),
  members: z.array(memberState).max(64)
})

export type MemberState = z.infer<typeof memberState>
export type ClusterState = z.infer<typeof clusterState>

export const statePath = (dataDir: string): string => join(dataDir, CLUSTER_STATE_FILE)

export async function writeClusterState (state: ClusterState): Promise<void> {
  await writeJsonAtomic(statePath(state.dataDir), state)
}

export async function removeClusterState (dataDir: string): Promise<void> {
  await unlink(statePath(dataDir)).catch(() => {})
}

/**
 * The state of the cluster supervised from `dataDir`; a ClusterNotRunningError when there is
 * none, or when its supervisor is gone (a state file left by a killed supervisor).
 */
export async function readClusterState (dataDir: string): Promise<ClusterState> {
  const path = statePath(dataDir)
  let raw: unknown
  try {
    raw = await readJsonFile(path)
  } catch (err) {
    throw new KeyFileError(`cannot read ${path} (${(err as Error).message}): delete it if no cluster runs from ${dataDir}`, { cause: err })
  }
  if (raw === undefined) throw new ClusterNotRunningError(`no cluster is running from ${dataDir} (no ${CLUSTER_STATE_FILE} there): start one with "gds cluster up"`)
  const parsed = clusterState.safeParse(raw)
  if (!parsed.success) throw new KeyFileError(`${path} is not a cluster state file (${parsed.error.issues[0]?.message}): delete it if no cluster runs from ${dataDir}`)
  if (!isAlive(parsed.data.pid)) {
    throw new ClusterNotRunningError(`no cluster is running from ${dataDir}: its supervisor (process ${parsed.data.pid}) is gone; members it left may still run (${membersAlive(parsed.data)})`)
  }
  return parsed.data
}

function membersAlive (s: ClusterState): string {
  const alive = s.members.filter(m => m.pid !== undefined && m.state !== 'stopped' && isAlive(m.pid))
  return alive.length === 0 ? 'none does' : `pids ${alive.map(m => m.pid).join(', ')}`
}
