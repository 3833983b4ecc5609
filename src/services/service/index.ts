import { defineService, type ServiceDefinition } from '../../node/service.js'

/**
 * The `service` role: a named service with no methods. It registers, answers heartbeats and
 * follows its requirements: for trying things out and for scripted cluster tests.
 */
export function plainService (name: string, requires: string[]): ServiceDefinition {
  return defineService({ name, requires })
}
