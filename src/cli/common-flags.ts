import type { FlagSpecs } from './argv.js'

/** The flag every command has (oclif's --json, enableJsonFlag), described as gds means it. */
export const JSON_FLAGS = {
  json: { type: 'boolean', description: 'Print machine-readable JSON on stdout (logs stay on stderr).', default: false }
} as const satisfies FlagSpecs

/** Flags of commands that talk to a registry. */
export const REGISTRY_FLAGS = {
  registry: {
    type: 'string',
    char: 'r',
    env: 'GDS_REGISTRY',
    description: 'Multiaddr of the registry; add /p2p/<peer id> to pin its identity (the only safe form across machines). Repeat it (or comma-separate GDS_REGISTRY) for registries sharing one catalogue, each pinned. [default: /ip4/127.0.0.1/tcp/4001]',
    helpValue: 'MULTIADDR',
    multiple: true
  },
  'swarm-key': {
    type: 'string',
    env: 'GDS_SWARM_KEY',
    description: 'Path of a private-network key (see "gds swarm-key generate"); peers without the same key cannot connect.',
    helpValue: 'FILE'
  }
} as const satisfies FlagSpecs

/** Repeated --registry flags (or one GDS_REGISTRY of several, comma-separated) as the one list the node and client take. */
export function registryText (values: string | string[] | undefined): string | undefined {
  const list = splitList(values)
  return list.length === 0 ? undefined : list.join(',')
}

/** Accepts "a,b" and repeated flags alike (and one string: oclif gives a multiple flag's env value so). */
export function splitList (values: string[] | string | undefined): string[] {
  return [values ?? []].flat().flatMap(v => v.split(',')).map(v => v.trim()).filter(v => v !== '')
}
