import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../cli/base.js'
import { parseSince, peerFlags, registryFlags } from '../cli/flags.js'
import { formatEntry } from '../cli/format.js'
import { Feed } from '../cli/output.js'
import { abortOn } from '../cli/signals.js'
import { itemsWithClient } from '../cli/with-client.js'
import type { LogEntry } from '../node/log-shipper.js'
import { isNotice, readLog, type FollowNotice } from '../node/log-reader.js'
import { LEVELS } from '../services/log/store.js'

export default class Logs extends GdsCommand<Feed<LogEntry | FollowNotice>> {
  static override summary = 'Read the cluster log (every node ships its log to the log service).'
  static override description = 'Newest entries last. --follow keeps printing new entries until Ctrl-C, through restarts of the log service, and waits for one if none is up (it says on stderr when the stream is lost and when it is back; under --json these are follow-lost and follow-resumed event lines). --json prints one entry per line.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --since 10m --level warn',
    '<%= config.bin %> <%= command.id %> --service grading --follow',
    '<%= config.bin %> <%= command.id %> --limit 1000 --json | jq .msg'
  ]

  static override flags = {
    ...registryFlags,
    ...peerFlags,
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new entries as they arrive.', default: false }),
    service: Flags.string({ char: 's', description: 'Only entries from this service.', helpValue: 'NAME' }),
    level: Flags.string({ char: 'L', description: 'Minimum level.', options: [...LEVELS] }),
    since: Flags.string({ description: 'Entries since a duration ago (10m, 2h) or an ISO time.', helpValue: 'WHEN' }),
    limit: Flags.integer({ char: 'n', description: 'At most this many past entries (the newest).', default: 100, min: 1, max: 10_000 })
  }

  async run (): Promise<Feed<LogEntry | FollowNotice>> {
    const { flags } = await this.parse(Logs)
    const filters = {
      ...(flags.service === undefined ? {} : { service: flags.service }),
      ...(flags.level === undefined ? {} : { level: flags.level }),
      ...(flags.since === undefined ? {} : { since: parseSince(flags.since, Date.now()) })
    }
    const items = itemsWithClient(flags, client =>
      readLog(client, filters, { limit: flags.limit, now: Date.now, ...(flags.follow ? { follow: abortOn(['SIGINT', 'SIGTERM']) } : {}) }))
    // A person reads the follow's notices on stderr, between the entries; a script gets them as events.
    return Feed.of(items, item => {
      if (!isNotice(item)) return formatEntry(item)
      this.logToStderr(formatNotice(item))
      return undefined
    })
  }
}

function formatNotice (n: FollowNotice): string {
  return n.event === 'follow-lost'
    ? `log stream lost (${n.error}): reconnecting until the log service is back (Ctrl-C to stop)`
    : `log stream back after ${(n.afterMs / 1000).toFixed(1)}s: resuming after the last entry shown`
}
