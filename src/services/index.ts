import { existsSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { GdsConfig } from '../node/config.js'
import { ModuleLoadError, UnknownRoleError } from '../node/errors.js'
import type { HubFactory } from '../node/hub.js'
import type { ServiceDefinition } from '../node/service.js'
import { plainService } from './service/index.js'

import { BUILT_IN_ROLES } from './roles.js'
export { BUILT_IN_ROLES }

function looksLikePath (role: string): boolean {
  return role.startsWith('.') || isAbsolute(role) || /\.(m?js|cjs)$/.test(role)
}

/** What a node runs: its services, or for the registry the hub (and no services). */
export interface Role {
  services: ServiceDefinition[]
  hub?: HubFactory
}

/** The role of a node of this config. `--requires` adds to what a role requires by itself. */
export async function resolveRole (config: GdsConfig): Promise<Role> {
  // Each role is loaded only when asked for: a registry need not load fastify or SQLite.
  if (config.role === 'registry') {
    const { registryHub } = await import('./registry/index.js')
    return { services: [], hub: registryHub() }
  }
  return { services: [await resolveService(config)] }
}

async function resolveService (config: GdsConfig): Promise<ServiceDefinition> {
  if (config.role === 'service') return plainService(config.name, config.requires)
  if (config.role === 'log') {
    const { logService } = await import('./log/index.js')
    return withRequires(logService({ dir: join(config.dataDir, 'log'), ...(config.httpCompat === undefined ? {} : { httpCompat: config.httpCompat }) }), config.requires)
  }
  if (config.role === 'webui') {
    const { webuiService } = await import('./webui/index.js')
    return withRequires(webuiService({ httpPort: config.httpPort, host: config.httpHost, token: config.httpToken, dataDir: config.dataDir, registry: config.registry }), config.requires)
  }
  if (config.role === 'grading') {
    const { gradingService } = await import('./grading/index.js')
    return withRequires(gradingService({ dbPath: config.dbPath ?? join(config.dataDir, 'grading.db') }), config.requires)
  }
  if (looksLikePath(config.role)) return withRequires(await loadModule(config.role), config.requires)
  throw new UnknownRoleError(config.role, BUILT_IN_ROLES)
}

function withRequires (def: ServiceDefinition, extra: string[]): ServiceDefinition {
  return { ...def, requires: [...new Set([...(def.requires ?? []), ...extra])] }
}

async function loadModule (path: string): Promise<ServiceDefinition> {
  const file = resolve(path)
  if (!existsSync(file)) throw new ModuleLoadError(`cannot load service module ${path}: there is no file ${file}`)
  const url = pathToFileURL(file).href
  let mod: any
  try {
    mod = await import(url)
  } catch (err: any) {
    throw new ModuleLoadError(`cannot load service module ${path}: ${err?.message ?? err}`, { cause: err })
  }
  const def = mod?.default
  if (def === undefined || typeof def !== 'object' || typeof def.name !== 'string') {
    throw new ModuleLoadError(`${path} must default-export a service made with defineService({ name, ... })`)
  }
  return def as ServiceDefinition
}
