import { Flags } from '@oclif/core'
import { GdsCommand, registryFlags } from '../cli/base.js'
import { loadClient } from '../cli/client-loader.js'
import { shortId } from '../cli/format.js'
import { InvalidParamsError, ServiceNotFoundError } from '../node/errors.js'
import type { LogEntry } from '../node/log-shipper.js'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal']
const SKIP = new Set(['ts', 'level', 'service', 'peerId', 'msg', 'inc', 'seq', 'pid', 'role'])

/** "10m", "2h", "30s", "1d" ago, or an ISO time → epoch ms. */
export function parseSince (text: string, now: number): number {
  const rel = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text.trim())
  if (rel !== null) return now - Number(rel[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'ms']
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new InvalidParamsError(`--since takes a duration like 10m, 2h, 30s, or a time like 2026-11-22T14:00:00Z (got "${text}")`)
  return t
}

export function formatEntry (e: LogEntry): string {
  const fields = Object.entries(e).filter(([k]) => !SKIP.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return `${new Date(e.ts).toISOString().slice(11, 23)} ${e.level.toUpperCase().padEnd(5)} ${e.service.padEnd(10)} ${shortId(e.peerId)} ${e.msg}${fields.length > 0 ? '  ' + fields.join(' ') : ''}`
}

export default class Logs extends GdsCommand {
  static override summary = 'Read the cluster log (every node ships its log to the log service).'
  static override description = 'Newest entries last. --follow keeps printing new entries until Ctrl-C. --json prints one entry per line.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --since 10m --level warn',
    '<%= config.bin %> <%= command.id %> --service grading --follow',
    '<%= config.bin %> <%= command.id %> --limit 1000 --json | jq .msg'
  ]

  static override flags = {
    ...registryFlags,
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new entries as they arrive.', default: false }),
    service: Flags.string({ char: 's', description: 'Only entries from this service.', helpValue: 'NAME' }),
    level: Flags.string({ char: 'L', description: 'Minimum level.', options: LEVELS }),
    since: Flags.string({ description: 'Entries since a duration ago (10m, 2h) or an ISO time.', helpValue: 'WHEN' }),
    limit: Flags.integer({ char: 'n', description: 'At most this many past entries (the newest).', default: 100, min: 1, max: 10_000 })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Logs)
    const filters = {
      ...(flags.service === undefined ? {} : { service: flags.service }),
      ...(flags.level === undefined ? {} : { level: flags.level }),
      ...(flags.since === undefined ? {} : { since: parseSince(flags.since, Date.now()) })
    }
    const print = flags.json ? (e: LogEntry) => { process.stdout.write(JSON.stringify(e) + '\n') } : (e: LogEntry) => { process.stdout.write(formatEntry(e) + '\n') }
    const { RegistryClient } = await loadClient()
    const client = await RegistryClient.connect({ registry: flags.registry, swarmKeyFile: flags['swarm-key'] })
    try {
      const { entries } = await client.call<{ entries: LogEntry[] }>('log', 'query', { ...filters, limit: flags.limit, order: 'desc' }, { idempotent: true })
      for (const e of entries.reverse()) print(e)
      if (!flags.follow) return
      const ac = new AbortController()
      process.once('SIGINT', () => { ac.abort() })
      process.once('SIGTERM', () => { ac.abort() })
      // Continue from the last entry shown, so nothing falls between the query and the follow;
      // entries of that same millisecond already shown are skipped.
      const last = entries.at(-1)
      const since = last?.ts ?? Date.now()
      const key = (e: LogEntry): string => `${e.peerId}/${e.inc}/${e.seq}`
      const shown = new Set(entries.filter(e => e.ts === since).map(key))
      try {
        for await (const e of client.stream<LogEntry>('log', 'follow', { ...filters, since }, { signal: ac.signal })) {
          if (!shown.has(key(e))) print(e)
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err
      }
    } catch (err: any) {
      if (err?.name === 'ServiceNotFoundError') throw new ServiceNotFoundError('log', 'no log service is up (start one: gds node start --role log)')
      throw err
    } finally {
      await client.close()
    }
  }
}
