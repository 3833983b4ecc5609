import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../cli/base.js'
import { peerFlags, registryFlags } from '../cli/flags.js'
import { Feed, jsonLine } from '../cli/output.js'
import { abortOn } from '../cli/signals.js'
import { itemsWithClient, withClient } from '../cli/with-client.js'
import { describeLines, type ServiceDescription } from '../node/describe.js'
import { InvalidParamsError, UsageError } from '../node/errors.js'
import { DESCRIBE_METHOD } from '../node/protocols.js'
import { STRATEGIES } from '../node/balancer.js'
import { untilAborted } from '../node/until-aborted.js'

export default class Call extends GdsCommand<unknown> {
  static override summary = 'Call a method of any service through the balancer, and print the result as JSON.'
  static override description = `PARAMS is a JSON value (usually an object). The call goes to an up provider chosen by
--strategy; a provider that fails is reported to the registry and the next one is tried within
--timeout. A streaming method prints one JSON line per item until it ends (Ctrl-C stops it).
--list prints the service's methods and their params instead (asked of one of its providers).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> grading --list',
    '<%= config.bin %> <%= command.id %> grading listStudents',
    '<%= config.bin %> <%= command.id %> grading getStudent \'{"id": 1}\'',
    '<%= config.bin %> <%= command.id %> log follow \'{"level": "warn"}\' --stream'
  ]

  static override args = {
    service: Args.string({ description: 'Service name.', required: true }),
    method: Args.string({ description: 'Method name (not with --list).' }),
    params: Args.string({ description: 'Params as JSON.', default: '{}' })
  }

  static override flags = {
    ...registryFlags,
    ...peerFlags,
    strategy: Flags.string({ description: 'How to choose among providers.', options: [...STRATEGIES], default: 'round-robin' }),
    timeout: Flags.integer({ description: 'ms for the whole call, retries included.', default: 5000, min: 1, helpValue: 'MS' }),
    stream: Flags.boolean({ description: 'The method streams: print each item as it arrives.', default: false }),
    idempotent: Flags.boolean({ description: 'Safe to run twice: also retry on another provider after a timeout.', default: false }),
    list: Flags.boolean({ description: 'List the service\'s methods and their params instead of calling one.', default: false, exclusive: ['stream'] })
  }

  private listing = false

  async run (): Promise<unknown> {
    const { args, flags } = await this.parse(Call)
    const opts = { strategy: flags.strategy as 'round-robin', timeoutMs: flags.timeout, idempotent: flags.idempotent }
    this.listing = flags.list
    if (flags.list) {
      if (args.method !== undefined) throw new UsageError('--list takes only SERVICE: gds call SERVICE --list')
      return withClient(flags, async client => client.call<ServiceDescription>(args.service, DESCRIBE_METHOD, {}, { ...opts, idempotent: true }))
    }
    if (args.method === undefined) throw new UsageError('missing METHOD: gds call SERVICE METHOD [PARAMS], or gds call SERVICE --list for its methods')
    const method = args.method
    let params: unknown
    try {
      params = JSON.parse(args.params)
    } catch {
      throw new InvalidParamsError(`PARAMS must be JSON, for example '{"id": 1}' (got: ${args.params.slice(0, 80)})`)
    }
    if (!flags.stream) return withClient(flags, async client => client.call(args.service, method, params, opts))
    const items = itemsWithClient(flags, client => {
      const signal = abortOn(['SIGINT'])
      return untilAborted(client.stream(args.service, method, params, { ...opts, signal }), signal)
    })
    // A stream's items are JSON lines for a person too.
    return Feed.of(items, jsonLine)
  }

  /** The result as indented JSON (jsonLine's `undefined` included); --list as one line per method. */
  protected override render (result: unknown): string {
    if (this.listing) return describeLines(result as ServiceDescription)
    return String(JSON.stringify(result, null, 2))
  }
}
