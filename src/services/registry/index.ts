import type { HubFactory } from '../../node/hub.js'
import { RegistryHub } from './hub.js'

/** The registry role: a node runs this hub instead of services (DESIGN.md §6). */
export function registryHub (): HubFactory {
  return components => new RegistryHub(components)
}
