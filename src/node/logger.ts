import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * The node's structured log: pino, JSON lines on stderr (stdout is reserved for results and
 * `--json` events). Components take a child logger: `log.child({ component: 'registry' })`.
 */
export function createLogger (level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: true }))
}

/** A logger that drops everything (library use and tests that do not care). */
export const silentLogger: Logger = pino({ level: 'silent' })
