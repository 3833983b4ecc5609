import { format } from 'node:util'
import { Command } from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import { isGdsError, UsageError } from '../node/errors.js'
import { safeLines, safeText } from '../node/safe-text.js'
import { LineBatcher } from './line-batcher.js'
import { Feed, jsonLine } from './output.js'

/** Exit codes of every gds command (DESIGN.md §10). */
export const EXIT = { ok: 0, failed: 1, unreachable: 2 } as const

/** A result printed once (anything but a Feed, whose items are printed as they come). */
export type Answer<T> = Exclude<T, Feed<any>>

/**
 * The base of every gds command. A command returns its result (or a Feed of items); this class
 * prints it: one JSON line under --json, else the command's `render`. It also owns the one place
 * that turns errors into a single line (or one JSON object under --json) and an exit code. Never
 * a stack trace for a user's mistake; GDS_DEBUG=1 shows one for ours.
 */
export abstract class GdsCommand<T = void> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = {
    // oclif's --json (enableJsonFlag), described as gds means it.
    json: Flags.boolean({ description: 'Print machine-readable JSON on stdout (logs stay on stderr).', default: false })
  }

  /** stdout, one write per turn of the event loop (see LineBatcher). */
  private readonly out = new LineBatcher(chunk => { process.stdout.write(chunk) })

  /** Parses flags, calls the library, returns what it found or a Feed; prints nothing itself. */
  abstract override run (): Promise<T>

  /** What a person reads of the result (nothing when undefined). @default its JSON line */
  protected render (result: Answer<T>): string | undefined {
    return jsonLine(result)
  }

  /** What --json prints of the result, when the script contract is not the result itself. */
  protected toJson (result: Answer<T>): unknown {
    return result
  }

  /** A human line (none under --json, as oclif's), in order with what the command prints. */
  override log (message = '', ...args: unknown[]): void {
    if (!this.jsonEnabled()) this.out.push(safeLines(format(message, ...args)))
  }

  /** oclif would print a --json result itself, pretty and coloured: gds prints one line, below. */
  protected override logJson (): void {}

  /**
   * oclif's parse, its failures as a UsageError (a bad flag or argument is the user's mistake,
   * not INTERNAL), so they print as one line, or as a JSON error object on stdout under --json.
   */
  protected override async parse (...args: Parameters<Command['parse']>): Promise<any> {
    try {
      return await super.parse(...args)
    } catch (err: any) {
      if (err?.code === 'EEXIT' || isGdsError(err)) throw err
      throw new UsageError(usageMessage(String(err?.message ?? err), this.id), { cause: err })
    }
  }

  protected override async _run<R> (): Promise<R> {
    const flush = (): void => { this.out.flush() }
    // stdout is synchronous for files and pipes on Linux, so what is pending at exit still goes out.
    process.on('exit', flush)
    try {
      const result = await super._run<T>()
      await this.print(result).catch(async (err: Error) => this.catch(err))
      return result as unknown as R
    } finally {
      process.off('exit', flush)
      flush()
    }
  }

  protected override async catch (err: Error & { exitCode?: number, oclif?: { exit?: number } }): Promise<never> {
    // `name` is the discriminator, as in libp2p; the bundled client's classes are copies.
    const gds = isGdsError(err)
    // oclif's own errors (bad flags, --help, exit) keep oclif's handling and exit codes.
    if (!gds) {
      if (err.oclif !== undefined || err.exitCode !== undefined) throw err
      if (process.env.GDS_DEBUG !== undefined) process.stderr.write(`${err.stack ?? String(err)}\n`)
    }
    const code = err.name === 'RegistryUnreachableError' ? EXIT.unreachable : EXIT.failed
    const wire = gds ? err.toWire() : { name: err.name, code: 'INTERNAL', message: err.message }
    if (this.jsonEnabled()) this.out.push(jsonLine({ error: wire }))
    else this.logToStderr(`Error: ${safeText(err.message)}`)
    this.out.flush()
    this.exit(code)
  }

  private async print (result: T): Promise<void> {
    const json = this.jsonEnabled()
    // Human text is neutralised here, once for every command: names and messages come from peers.
    const line = (text: string | undefined): void => { if (text !== undefined) this.out.push(json ? text : safeLines(text)) }
    if (result instanceof Feed) {
      const render = json ? jsonLine : result.render
      await result.produce(item => { line(render(item)) })
    } else {
      const answer = result as Answer<T>
      line(json ? jsonLine(this.toJson(answer)) : this.render(answer))
    }
  }
}

/** oclif's multi-line parse message as one sentence, with where to read more. */
export function usageMessage (text: string, id?: string): string {
  const lines = text.split('\n').map(l => l.trim()).filter(l => l !== '' && !/^See more help/i.test(l))
  const sentence = lines.join(' ').replace(/\s+/g, ' ').replace(/^Parsing (--\S+) /, 'bad value for $1: ')
  return id === undefined ? sentence : `${sentence} (see "gds ${id.replaceAll(':', ' ')} --help")`
}
