import type { ComponentLogger, Logger } from '@libp2p/interface'

/**
 * libp2p gives every component a logger of its own, and every connection, muxer and stream a
 * scoped one: three `debug` instances each (log, error, trace), ~2.6 KiB of live heap apiece and
 * about 10 KiB per connection, for output `debug` prints only when DEBUG asks for it. Unless DEBUG
 * is set, every component shares this one logger that prints nothing (heap snapshots of the
 * registry with 500 services: 4,052 `debug` closures, 8 per connection).
 */
const QUIET: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => QUIET
})

const QUIET_LOGGER: ComponentLogger = { forComponent: () => QUIET }

/** The logger option for createLibp2p: none (libp2p's own, DEBUG's namespaces) when DEBUG is set. */
export function libp2pLogger (env: NodeJS.ProcessEnv = process.env): { logger?: ComponentLogger } {
  return env.DEBUG === undefined || env.DEBUG === '' ? { logger: QUIET_LOGGER } : {}
}
