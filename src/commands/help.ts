import * as Args from '@oclif/core/args'
import { Command } from '@oclif/core/command'
import { loadHelpClass } from '@oclif/core/help'

/** `gds help [COMMAND...]`: the same text as `gds COMMAND --help`. */
export default class HelpCommand extends Command {
  static override summary = 'Show help for gds or one of its commands.'
  static override strict = false
  static override args = { command: Args.string({ description: 'Command to show help for (e.g. "node start").', required: false }) }

  async run (): Promise<void> {
    const { argv } = await this.parse(HelpCommand)
    const Help = await loadHelpClass(this.config)
    await new Help(this.config, this.config.pjson.oclif.helpOptions).showHelp((argv as string[]).flatMap(a => a.split(' ')))
  }
}
