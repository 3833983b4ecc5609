import { join } from 'node:path'
import { Flags } from '@oclif/core'
import { GdsCommand } from '../../cli/base.js'
import { formatEvent, pickAddr, shortId } from '../../cli/format.js'
import { REGISTRY_PORT, stateDir } from '../../node/config.js'
import type { ClusterEvent, MemberSpec } from '../../cluster/supervisor.js'

/** What `cluster up` starts besides the registry: the log, N grading instances sharing one database, the web UI. */
export function members (grading: number, dataDir: string, httpPort: number): MemberSpec[] {
  const db = join(dataDir, 'grading.db')
  return [
    { role: 'log', name: 'log' },
    ...Array.from({ length: grading }, (_, i) => ({ role: 'grading', name: grading === 1 ? 'grading' : `grading-${i + 1}`, args: ['--db', db] })),
    { role: 'webui', name: 'webui', args: ['--http-port', String(httpPort)] }
  ]
}

export default class ClusterUp extends GdsCommand {
  static override summary = 'Start the whole system on this machine: the registry and every role, one process each.'
  static override description = `Each member is a separate "gds node start" process with its data under --data-dir/<name>.
Prints where each listens and follows their health; Ctrl-C stops them all gracefully (services
first, the registry last). Look at it from another terminal with "gds status".`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --grading 2', '<%= config.bin %> <%= command.id %> --data-dir ./cluster-data --port 4101']

  static override flags = {
    'data-dir': Flags.string({ char: 'd', description: 'Folder for every member\'s data. [default: $XDG_STATE_HOME/gds/cluster]', helpValue: 'DIR' }),
    port: Flags.integer({ char: 'p', description: 'Registry port.', default: REGISTRY_PORT, min: 0, max: 65535 }),
    host: Flags.string({ description: 'IPv4 address every member listens on.', default: '127.0.0.1' }),
    'http-port': Flags.integer({ description: 'Port of the web UI.', default: 8080, min: 1, max: 65535 }),
    grading: Flags.integer({ description: 'Grading instances (they share one database), to see load balancing and failover.', default: 1, min: 1, max: 16 })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(ClusterUp)
    const { Supervisor } = await import('../../cluster/supervisor.js')
    const dataDir = flags['data-dir'] ?? join(stateDir(), 'cluster')
    const roles = members(flags.grading, dataDir, flags['http-port'])
    const supervisor = new Supervisor({ dataDir, host: flags.host, registryPort: flags.port, members: roles })
    supervisor.on('event', e => { this.print(e, flags.json) })
    const stopped = Promise.withResolvers<void>()
    let signals = 0
    const onSignal = (): void => {
      if (++signals > 1) process.exit(1)
      if (!flags.json) this.log('stopping the cluster...')
      supervisor.stop().then(stopped.resolve, stopped.reject)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    await supervisor.start()
    const registry = supervisor.registry ?? ''
    const web = `http://${flags.host}:${flags['http-port']}/`
    if (flags.json) process.stdout.write(JSON.stringify({ event: 'cluster-up', registry, web, members: roles.length + 1, ts: Date.now() }) + '\n')
    else {
      this.log(`\ncluster up: registry ${registry}`)
      this.log(`  web UI:  ${web}  (grades)   ${web}cluster  (live cluster page)`)
      const r = flags.port === REGISTRY_PORT && flags.host === '127.0.0.1' ? '' : ` --registry ${registry}`
      this.log('  from another terminal:')
      for (const cmd of ['gds status', 'gds grades list', 'gds logs --follow']) this.log(`    ${cmd}${r}`)
      this.log('  Ctrl-C stops every member\n')
    }
    await stopped.promise
  }

  private print (e: ClusterEvent, json: boolean): void {
    if (json) {
      process.stdout.write(JSON.stringify({ ...e, ts: Date.now() }) + '\n')
      return
    }
    switch (e.event) {
      case 'member-listening':
        this.log(`${e.name.padEnd(10)} pid ${e.pid}  ${shortId(e.peerId)}  ${pickAddr(e.addrs)}`)
        break
      case 'member-exited':
        if (!e.expected) this.log(`${e.name.padEnd(10)} exited (${e.signal ?? `code ${e.code}`})${e.lastError === undefined ? '' : `: ${e.lastError}`}`)
        break
      case 'member-event':
        // The registry sees every status change; the members' own events would repeat them.
        if (e.name === 'registry' && e.detail.event.startsWith('provider-')) this.log(`${'registry'.padEnd(10)} ${formatEvent(e.detail).slice(13)}`)
        break
    }
  }
}
