import { Flags } from '@oclif/core'
import { GdsCommand, registryFlags } from '../cli/base.js'
import { formatEvent, shortId, statusTable } from '../cli/format.js'
import { eventForChange } from '../node/events.js'
import { DEFAULT_REGISTRY_ADDR } from '../node/config.js'
import type { ListResult } from '../node/schemas.js'
import { loadClient } from '../cli/client-loader.js'

/** The script contract of `gds status --json` (DESIGN.md §8), mapped explicitly from the catalogue. */
export interface StatusJson {
  registry: { peerId: string, addrs: string[] }
  /** Present with --peer: whose view this is. */
  source?: { peerId: string, role: 'registry' | 'peer', registryConnected: boolean, connectedPeers?: number }
  services: Array<{ name: string, peerId: string, addrs: string[], status: string, requires: string[], incarnation: number, seq: number, lastSeen: number | null, rttMs: number | null, load: number | null }>
}

export function toStatusJson (list: ListResult): StatusJson {
  return {
    registry: { peerId: list.registry.peerId, addrs: list.registry.addrs },
    ...(list.source?.role === 'peer' ? { source: list.source } : {}),
    services: list.services.map(s => ({
      name: s.name,
      peerId: s.peerId,
      addrs: s.addrs,
      status: s.status,
      requires: s.requires,
      incarnation: s.incarnation,
      seq: s.seq,
      lastSeen: s.lastSeen ?? null,
      rttMs: s.rttMs ?? null,
      load: s.load ?? null
    }))
  }
}

export default class Status extends GdsCommand {
  static override summary = 'Show the cluster catalogue: every registered service, its status and health.'
  static override description = 'Asks the registry for its catalogue. Exit code 2 when the registry cannot be reached.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json | jq ".services[] | select(.status != \\"up\\")"',
    '<%= config.bin %> <%= command.id %> --registry /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...',
    '<%= config.bin %> <%= command.id %> --peer /ip4/10.0.0.7/tcp/41234/p2p/12D3KooW...   # while the registry is down'
  ]

  static override flags = {
    ...registryFlags,
    timeout: Flags.integer({ description: 'ms to wait for the registry.', default: 3000, min: 100, helpValue: 'MS' }),
    peer: Flags.string({ char: 'p', description: 'Ask this node (any peer, not the registry) for its own view of the catalogue: works while the registry is down.', helpValue: 'MULTIADDR', exclusive: ['watch'] }),
    watch: Flags.boolean({ char: 'w', description: 'Follow the cluster live: a full-screen view on a terminal, one line per event when piped (--json: one watch message per line).', default: false })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Status)
    if (flags.watch) {
      await watch({ registry: flags.registry, swarmKeyFile: flags['swarm-key'], timeoutMs: flags.timeout }, flags.json)
      return
    }
    const { RegistryClient } = await loadClient()
    const client = await RegistryClient.connect({ registry: flags.peer ?? flags.registry, swarmKeyFile: flags['swarm-key'], timeoutMs: flags.timeout })
    let list: ListResult
    try {
      list = await client.list()
    } finally {
      await client.close()
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(toStatusJson(list)) + '\n')
      return
    }
    if (list.source?.role === 'peer') {
      this.log(`view of peer ${shortId(list.source.peerId)} (its own entries and what it follows; registry ${list.source.registryConnected ? 'connected' : 'NOT reachable from it'})`)
    }
    const counts = ['up', 'suspect', 'down', 'leaving'].map(s => [s, list.services.filter(x => x.status === s).length] as const).filter(([, n]) => n > 0)
    this.log(`registry ${shortId(list.registry.peerId)}  ${list.services.length} services${counts.length > 0 ? ': ' + counts.map(([s, n]) => `${n} ${s}`).join(', ') : ''}`)
    this.log(statusTable(list.services, Date.now()))
  }
}

/**
 * `status --watch` and `top`: the ink TUI on a terminal; otherwise one line per change (or the
 * raw watch messages with --json), until Ctrl-C.
 */
export async function watch (opts: { registry?: string, swarmKeyFile?: string, timeoutMs?: number }, json: boolean): Promise<void> {
  const registry = opts.registry ?? process.env.GDS_REGISTRY ?? DEFAULT_REGISTRY_ADDR
  if (process.stdout.isTTY === true && !json) {
    // ink draws only a final frame when it thinks it runs in CI; this is a real terminal.
    for (const k of Object.keys(process.env)) if (k === 'CI' || k === 'CONTINUOUS_INTEGRATION' || k.startsWith('CI_')) delete process.env[k]
    const { runTui } = await import('../ui/run.js')
    await runTui({ ...opts, registry })
    return
  }
  const { RegistryClient } = await loadClient()
  const client = await RegistryClient.connect({ ...opts, registry })
  const ac = new AbortController()
  process.once('SIGINT', () => { ac.abort() })
  process.once('SIGTERM', () => { ac.abort() })
  try {
    for await (const msg of client.watch(ac.signal)) {
      if (json) { process.stdout.write(JSON.stringify(msg) + '\n'); continue }
      if (msg.type === 'snapshot') process.stdout.write(`${statusTable(msg.services, msg.ts)}\n`)
      if (msg.type !== 'change') continue
      const e = eventForChange({ record: msg.record, previous: msg.previous, ...(msg.removed === true ? { removed: true as const } : {}) }, 'hub')
      if (e !== undefined) process.stdout.write(formatEvent({ ...e, ts: msg.ts }) + '\n')
    }
  } finally {
    await client.close()
  }
}
