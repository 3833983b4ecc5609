import type { Catalog } from './catalog.js'
import type { GdsConfig } from './config.js'
import type { Logger } from './logger.js'

/** What a service gets when it starts: only what it may use. */
export interface ServiceContext {
  readonly config: GdsConfig
  readonly log: Logger
  /** The node's view of the providers it requires, kept current by the registry and gossip. */
  readonly catalog: Catalog
  readonly peerId: string
}

/**
 * A role: a name to register, the names it needs, and a lifecycle. The built-in roles and a
 * user's `--role ./module.js` are the same kind of thing.
 */
export interface ServiceDefinition {
  name: string
  version?: string
  requires?: string[]
  meta?: Record<string, string>
  start?: (ctx: ServiceContext) => Promise<void> | void
  stop?: () => Promise<void> | void
}

export function defineService<T extends ServiceDefinition> (definition: T): T {
  return definition
}
