import * as Flags from '@oclif/core/flags'
import type { BooleanFlag, OptionFlag } from '@oclif/core/interfaces'
import type { BooleanSpec, FlagSpec, FlagSpecs, FlagValue } from './argv.js'

export type OclifFlag<S extends FlagSpec> = S extends BooleanSpec ? BooleanFlag<boolean> : OptionFlag<FlagValue<S>>

/** oclif's flag for a spec: what commands declare, `--help` shows and oclif parses. */
function oclifFlag (spec: FlagSpec): BooleanFlag<boolean> | OptionFlag<any> {
  const { type, ...rest } = spec
  // oclif types a char as a letter (the spec holds one: test/unit/argv.test.ts reads every spec
  // through both), and its lists as mutable.
  const props: any = { ...rest, exclusive: spec.exclusive === undefined ? undefined : [...spec.exclusive] }
  if (type === 'boolean') return Flags.boolean<boolean>(props)
  props.options = spec.options === undefined ? undefined : [...spec.options]
  return type === 'integer' ? Flags.integer(props) : Flags.string(props)
}

/** oclif's flags for specs, typed as the values readArgv gives. */
export function oclifFlags<S extends FlagSpecs> (specs: S): { [K in keyof S]: OclifFlag<S[K]> } {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, oclifFlag(spec)])) as any
}
