import * as Flags from '@oclif/core/flags'
import type { BooleanFlag, OptionFlag } from '@oclif/core/interfaces'
import type { BooleanSpec, FlagSpec, FlagSpecs, FlagValue } from './argv.js'

export type OclifFlag<S extends FlagSpec> = S extends BooleanSpec ? BooleanFlag<boolean> : OptionFlag<FlagValue<S>>

/** oclif's flag for a spec: what commands declare, `--help` shows and oclif parses. */
function oclifFlag (spec: FlagSpec): BooleanFlag<boolean> | OptionFlag<any> {
  const { type, char, ...rest } = spec
  // oclif types a char as a letter; the spec holds one (test/unit/argv.test.ts reads every spec through both).
  const letter = char as 'a' | undefined
  if (type === 'boolean') return Flags.boolean<boolean>({ ...rest as Omit<BooleanSpec, 'type' | 'char'>, char: letter })
  const options = { ...rest, char: letter, options: spec.options === undefined ? undefined : [...spec.options] } as any
  return type === 'integer' ? Flags.integer(options) : Flags.string(options)
}

/** oclif's flags for specs, typed as the values readArgv gives. */
export function oclifFlags<S extends FlagSpecs> (specs: S): { [K in keyof S]: OclifFlag<S[K]> } {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, oclifFlag(spec)])) as any
}
