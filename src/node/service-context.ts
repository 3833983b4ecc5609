import type { EventEmitter } from 'node:events'
import type { Catalog } from './catalog.js'
import type { GdsConfig } from './config.js'
import type { NodeEvent, TimedEvent } from './events.js'
import type { Logger } from './logger.js'
import type { ProviderEvent, ServiceContext } from './service.js'

export interface ServiceContextParts {
  config: GdsConfig
  log: Logger
  catalog: Catalog
  peerId: string
  caller: Pick<ServiceContext, 'call' | 'stream'>
  /** The node's event stream: provider changes are read from it. */
  events: Pick<EventEmitter<{ event: [TimedEvent] }>, 'on' | 'off'>
  emit: (e: NodeEvent) => void
  lookup: ServiceContext['lookup']
  registryId: ServiceContext['registryId']
}

/** What the node lends the service named `service` when it starts it. */
export function serviceContext (parts: ServiceContextParts, service: string): ServiceContext {
  const { config, log, catalog, peerId, caller, events, emit, lookup, registryId } = parts
  return {
    config,
    log,
    catalog,
    peerId,
    call: async (s, method, params, opts) => caller.call(s, method, params, opts),
    stream: (s, method, params, opts) => caller.stream(s, method, params, opts),
    onProviderChange: listener => {
      const f = (e: TimedEvent): void => { if (e.event.startsWith('provider-')) listener(e as ProviderEvent) }
      events.on('event', f)
      return () => { events.off('event', f) }
    },
    serving: (url, login) => { emit({ event: 'serving', service, url, ...(login === undefined ? {} : { login }) }) },
    lookup,
    registryId
  }
}
