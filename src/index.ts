/**
 * gds as a library: write a service, run a node, or call services from a plain program.
 *
 * ```ts
 * import { defineService, defineMethod, startNode, connect } from 'gds'
 * import { z } from 'zod'
 *
 * export default defineService({
 *   name: 'hello',
 *   requires: ['log'],
 *   methods: {
 *     greet: defineMethod({
 *       params: z.object({ name: z.string().max(64) }),
 *       handler: ({ name }) => ({ text: `hello, ${name}` })
 *     })
 *   }
 * })
 * ```
 * Run it with `gds node start --role ./hello.js`, or in-process with `startNode`.
 */
import './polyfills.js'
import { createConfig, type ConfigInput } from './node/config.js'
import { GdsNode } from './node/node.js'
import { RegistryClient, type RegistryClientOptions } from './node/client.js'
import type { ServiceDefinition } from './node/service.js'
import type { Logger } from './node/logger.js'
import { registryHub } from './services/registry/index.js'

export { defineService, defineMethod } from './node/service.js'
export type { ServiceDefinition, ServiceContext, MethodDefinition, CallContext, ProviderEvent } from './node/service.js'
export type { CallOptions, StrategyName } from './node/balancer.js'
export { STRATEGIES } from './node/balancer.js'
export type { GdsConfig } from './node/config.js'
export type { NodeEvent, TimedEvent } from './node/events.js'
export type { ProviderRecord, ListResult, WatchMessage } from './node/schemas.js'
export { GdsNode } from './node/node.js'
export { RegistryClient } from './node/client.js'
export type { RegistryClientOptions } from './node/client.js'
export { Catalog } from './node/catalog.js'
export * from './node/errors.js'

export interface StartNodeOptions extends Omit<ConfigInput, 'role'> {
  /** The services this node provides; none makes it a plain participant. */
  services?: ServiceDefinition[]
  /** Run the registry hub instead of services. */
  registryRole?: boolean
  log?: Logger
}

/**
 * Starts a node in this process: the services are served, registered and kept alive; call
 * others with `node.call(service, method, params)`. Stop it with `await node.stop()`.
 */
export async function startNode (opts: StartNodeOptions = {}): Promise<GdsNode> {
  const { services = [], registryRole = false, log, ...rest } = opts
  const name = rest.name ?? services[0]?.name ?? 'client'
  const config = createConfig({ ...rest, role: registryRole ? 'registry' : 'service', name })
  const node = new GdsNode({ config, services, ...(registryRole ? { hub: registryHub() } : {}), ...(log === undefined ? {} : { log }) })
  await node.start()
  return node
}

/**
 * A plain client program's link to a cluster (no service of its own): `call`, `stream`,
 * `list`, `watch`. Close it when done.
 */
export async function connect (opts: RegistryClientOptions = {}): Promise<RegistryClient> {
  return RegistryClient.connect(opts)
}
