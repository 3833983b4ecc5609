import { writeFile } from 'node:fs/promises'
import * as Flags from '@oclif/core/flags'
import { GdsCommand } from '../../cli/base.js'
import { KeyFileError } from '../../node/errors.js'

export default class SwarmKeyGenerate extends GdsCommand<{ path: string }> {
  static override summary = 'Create a private-network key: only peers started with it can connect.'
  static override description = 'Give the same file to every node with --swarm-key (or GDS_SWARM_KEY). Keep it secret.'
  static override examples = ['<%= config.bin %> <%= command.id %> --out swarm.key']

  static override flags = {
    out: Flags.string({ char: 'o', description: 'File to write.', required: true, helpValue: 'FILE' }),
    force: Flags.boolean({ description: 'Overwrite an existing file.', default: false })
  }

  async run (): Promise<{ path: string }> {
    const { flags } = await this.parse(SwarmKeyGenerate)
    const { generateKey } = await import('@libp2p/pnet')
    const key = new Uint8Array(95)
    generateKey(key)
    try {
      await writeFile(flags.out, key, { mode: 0o600, flag: flags.force ? 'w' : 'wx' })
    } catch (err: any) {
      if (err?.code === 'EEXIST') throw new KeyFileError(`${flags.out} exists already; pass --force to replace it`)
      throw new KeyFileError(`cannot write ${flags.out}: ${err?.message}`)
    }
    return { path: flags.out }
  }

  protected override render ({ path }: { path: string }): string {
    return `swarm key written to ${path}`
  }
}
