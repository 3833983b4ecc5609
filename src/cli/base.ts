import { format } from 'node:util'
import { Command } from '@oclif/core/command'
import { isGdsError, UsageError } from '../node/errors.js'
import { safeLines } from '../node/safe-text.js'
import { JSON_FLAGS } from './common-flags.js'
import { reportFailure } from './failure.js'
import { LineBatcher } from './line-batcher.js'
import { Feed, jsonLine, outputLine, printFeed } from './output.js'
import { oclifFlags } from './oclif-flags.js'

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
  static override baseFlags = oclifFlags(JSON_FLAGS)

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
    // oclif's own errors (bad flags, --help, exit) keep oclif's handling and exit codes.
    if (!isGdsError(err) && (err.oclif !== undefined || err.exitCode !== undefined)) throw err
    const code = reportFailure(err, this.jsonEnabled(), line => { this.out.push(line) }, line => { this.logToStderr(line) })
    this.out.flush()
    this.exit(code)
  }

  private async print (result: T): Promise<void> {
    const json = this.jsonEnabled()
    if (result instanceof Feed) return printFeed(result, json, line => { this.out.push(line) })
    const answer = result as Answer<T>
    const line = outputLine(json ? jsonLine(this.toJson(answer)) : this.render(answer), json)
    if (line !== undefined) this.out.push(line)
  }
}

/** oclif's multi-line parse message as one sentence, with where to read more. */
export function usageMessage (text: string, id?: string): string {
  const lines = text.split('\n').map(l => l.trim()).filter(l => l !== '' && !/^See more help/i.test(l))
  const sentence = lines.join(' ').replace(/\s+/g, ' ').replace(/^Parsing (--\S+) /, 'bad value for $1: ')
  return id === undefined ? sentence : `${sentence} (see "gds ${id.replaceAll(':', ' ')} --help")`
}
