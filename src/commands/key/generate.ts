import { join } from 'node:path'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { InvalidConfigError } from '../../node/errors.js'
import { generateKeyFile, KEY_FILE } from '../../node/identity.js'

export default class KeyGenerate extends GdsCommand<{ peerId: string, path: string }> {
  static override summary = 'Create a node identity (an Ed25519 key) and print its peer id.'
  static override description = `A node reads its key from <data dir>/${KEY_FILE} and creates one on first start, so this is only
needed to know a peer id in advance: for example the registry's, to pin it in --registry .../p2p/<id>.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --data-dir /var/lib/gds/registry',
    '<%= config.bin %> <%= command.id %> --out ./registry.key --json'
  ]

  static override flags = {
    'data-dir': Flags.string({ char: 'd', description: `Write <DIR>/${KEY_FILE}, where "gds node start --data-dir DIR" reads it.`, exclusive: ['out'], helpValue: 'DIR' }),
    out: Flags.string({ char: 'o', description: 'Write the key to this file.', exclusive: ['data-dir'], helpValue: 'FILE' }),
    force: Flags.boolean({ description: 'Replace an existing key (the node gets a new peer id).', default: false })
  }

  async run (): Promise<{ peerId: string, path: string }> {
    const { flags } = await this.parse(KeyGenerate)
    const path = flags.out ?? (flags['data-dir'] === undefined ? undefined : join(flags['data-dir'], KEY_FILE))
    if (path === undefined) throw new InvalidConfigError('say where to write the key: --data-dir DIR (a node\'s data dir) or --out FILE')
    const { peerId } = await generateKeyFile(path, { force: flags.force })
    return { peerId, path }
  }

  protected override render ({ peerId, path }: { peerId: string, path: string }): string {
    return `${peerId}\n  written to ${path}`
  }
}
