import type { z } from 'zod'
import type { CallOptions } from './balancer.js'
import type { Catalog } from './catalog.js'
import type { GdsConfig } from './config.js'
import type { Logger } from './logger.js'
import type { NodeEvent } from './events.js'
import type { ProviderRecord } from './schemas.js'

export type ProviderEvent = Extract<NodeEvent, { event: 'provider-up' | 'provider-suspect' | 'provider-down' | 'provider-removed' }> & { ts: number }

/** What a method handler knows about the call it is serving. */
export interface CallContext {
  /** Peer id of the caller (from the authenticated connection). */
  readonly caller: string
  /** Aborted when the caller cancels (streams) or goes away. */
  readonly signal: AbortSignal
}

/**
 * One method of a service. `params` and `result` are zod schemas the author supplies: params
 * are checked before the handler runs (a mismatch is an INVALID_PARAMS error to the caller),
 * the result before it is sent. A handler that returns an async iterable streams its items.
 */
export interface MethodDefinition<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params?: P
  result?: R
  /** Say so if calling twice is harmless: the balancer then also retries it after a timeout. */
  idempotent?: boolean
  handler: (params: z.infer<P>, call: CallContext) => Promise<z.infer<R>> | z.infer<R> | AsyncIterable<z.infer<R>>
}

/** What a service gets when it starts: only what it may use. */
export interface ServiceContext {
  readonly config: GdsConfig
  readonly log: Logger
  /** The node's view of the providers it requires, kept current by the registry and gossip. */
  readonly catalog: Catalog
  readonly peerId: string
  /**
   * Changes to the providers this service requires (provider-up / -suspect / -down / -removed),
   * as they happen. Returns the function that unsubscribes.
   */
  onProviderChange: (listener: (event: ProviderEvent) => void) => () => void
  /** Calls a method of a required service through the balancer. */
  call: <T = unknown>(service: string, method: string, params?: unknown, opts?: CallOptions) => Promise<T>
  /**
   * Tells whoever runs the node where this service is reached outside gds (its web page, say):
   * a `serving` event, printed by `gds node start` (only there: never logged). `login` is a URL
   * that signs a browser in, token included, for whoever started the node.
   */
  serving: (url: string, login?: string) => void
  /**
   * The registry's entries for `name`, asked of the registry whatever this node follows (the log
   * service checks who provides the name an entry claims). Rejects while the registry is away.
   */
  lookup: (name: string) => Promise<ProviderRecord[]>
  /** The registry's peer id, once this node has reached it. */
  registryId: () => string | undefined
  /** Calls a streaming method; the iterator ends when the provider ends the stream. */
  stream: <T = unknown>(service: string, method: string, params?: unknown, opts?: CallOptions) => AsyncIterable<T>
}

/**
 * A role: a name to register, the names it needs, its methods and a lifecycle. The built-in
 * roles and a user's `--role ./module.js` are the same kind of thing.
 */
export interface ServiceDefinition {
  name: string
  version?: string
  requires?: string[]
  meta?: Record<string, string>
  /** Each a MethodDefinition, or a plain handler function (no params schema): `say: async p => ...`. */
  methods?: Record<string, MethodDefinition<any, any> | MethodDefinition<any, any>['handler']>
  start?: (ctx: ServiceContext) => Promise<void> | void
  stop?: () => Promise<void> | void
}

export function defineService<T extends ServiceDefinition> (definition: T): T {
  return definition
}

/** A method as the definition gives it, a plain function being `{ handler: fn }`. */
export function methodOf (m: MethodDefinition<any, any> | MethodDefinition<any, any>['handler']): MethodDefinition {
  return typeof m === 'function' ? { handler: m } : m
}

/** Types a method's handler from its schemas. */
export function defineMethod<P extends z.ZodType, R extends z.ZodType> (m: MethodDefinition<P, R>): MethodDefinition<P, R> {
  return m
}
