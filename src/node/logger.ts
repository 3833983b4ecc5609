import { pino, type Logger } from 'pino'
import { safeText } from './safe-text.js'
import { localTime } from './local-time.js'

export type { Logger }

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** Entries at or above this level go to the cluster log service, whatever stderr shows. */
export const SHIP_LEVEL: LogLevel = 'info'

/**
 * Where a node's log lines go besides stderr: to the log shipper once the node has started.
 * Lines written before that are held (bounded) and handed over on attach.
 */
export class LogTap {
  private sink?: (line: string) => void
  private early: string[] = []

  constructor (private readonly maxEarly = 1_000) {}

  write (line: string): void {
    if (this.sink !== undefined) this.sink(line)
    else if (this.early.length < this.maxEarly) this.early.push(line)
  }

  attach (sink: (line: string) => void): void {
    this.sink = sink
    for (const line of this.early.splice(0)) sink(line)
  }
}

/**
 * The node's structured log: pino, JSON lines on stderr (stdout is reserved for results and
 * `--json` events) at `level`, and, with a tap, every entry from `info` up to the shipper.
 * Components take a child logger: `log.child({ component: 'registry' })`.
 */
export function createLogger (level: LogLevel, bindings: Record<string, unknown> = {}, tap?: LogTap, opts0: { human?: boolean } = {}): Logger {
  const raw = pino.destination({ fd: 2, sync: true })
  // In human mode a log line on stderr is a human line too; --json keeps pino's JSON lines.
  const stderr = opts0.human === true ? { write: (line: string) => { raw.write(`${humanLogLine(line)}\n`) } } : raw
  const opts = { base: { pid: process.pid, ...bindings }, formatters: { level: (label: string) => ({ level: label }) } }
  if (tap === undefined) return pino({ ...opts, level }, stderr)
  const streams = [{ level: SHIP_LEVEL, stream: { write: (line: string) => { tap.write(line) } } }]
  if (level !== 'silent') streams.push({ level, stream: stderr as any })
  return pino({ ...opts, level: lowest(level, SHIP_LEVEL) }, pino.multistream(streams as any))
}

const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'role', 'name'])

/** A pino JSON line as `HH:MM:SS.mmm LEVEL msg key=value ...`, neutralised (a line that is not JSON stays as it is). */
export function humanLogLine (line: string): string {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(line)
  } catch {
    return safeText(line.trimEnd())
  }
  if (rec === null || typeof rec !== 'object') return safeText(line.trimEnd())
  const time = typeof rec.time === 'number' ? localTime(rec.time, Date.now()) : ''
  const level = String(rec.level ?? '').toUpperCase()
  const rest = Object.entries(rec).filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
  return safeText([time, level, String(rec.msg ?? ''), ...rest].filter(p => p !== '').join(' '))
}

function lowest (a: LogLevel, b: LogLevel): LogLevel {
  const order: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']
  return order.indexOf(a) <= order.indexOf(b) ? a : b
}

/** A logger that drops everything (library use and tests that do not care). */
export const silentLogger: Logger = pino({ level: 'silent' })
