/**
 * A command's flags as plain data, and reading argv with them without oclif. oclif builds its
 * own flags from the same specs (oclif-flags.ts), so `--help`, errors and every other command
 * stay oclif's; a long-running `gds node start` reads its argv here and never loads oclif's
 * runtime (~100 CommonJS modules, ~5 MB of a node's private memory for as long as it runs).
 */
interface CommonSpec {
  readonly description: string
  /** One letter, for `-x VALUE`. */
  readonly char?: string
  /** Flags that may not be given with this one. */
  readonly exclusive?: readonly string[]
}

export interface BooleanSpec extends CommonSpec {
  readonly type: 'boolean'
  readonly default?: boolean
}

export interface OptionSpec extends CommonSpec {
  readonly type: 'string' | 'integer'
  /** The variable read when the flag is not given (a multiple flag gets its text as one string, as from oclif). */
  readonly env?: string
  readonly helpValue?: string
  readonly multiple?: boolean
  readonly required?: boolean
  readonly options?: readonly string[]
  readonly default?: string | number
  /** integer only: the range, both ends included. */
  readonly min?: number
  readonly max?: number
}

export type FlagSpec = BooleanSpec | OptionSpec
export type FlagSpecs = Readonly<Record<string, FlagSpec>>

/** The parsed value of a flag, typed as oclif types it. */
export type FlagValue<S extends FlagSpec> = S extends OptionSpec
  ? (S['multiple'] extends true ? string[] : S['type'] extends 'integer' ? number : string) |
    (S['required'] extends true ? never : S['default'] extends string | number ? never : undefined)
  : boolean

export type FlagValues<S extends FlagSpecs> = { [K in keyof S]: FlagValue<S[K]> }

/**
 * What oclif's parser would make of `argv` for these flags, or undefined whenever this reading is
 * not sure to agree: anything but `--flag VALUE`, `--flag=VALUE`, `-x VALUE` and booleans
 * (`--help`, unknown flags, arguments, `--`, values beginning with "-"), and any input oclif
 * would refuse (a missing required flag, a repeated single flag, a bad integer or option,
 * exclusive flags together). The
 * caller then hands argv to oclif, whose answer (help, or the error a user reads) is the one
 * every command gives. Pure.
 */
export function readArgv<S extends FlagSpecs> (specs: S, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): FlagValues<S> | undefined {
  const byChar = new Map(Object.entries(specs).flatMap(([name, s]) => s.char === undefined ? [] : [[`-${s.char}`, name]]))
  const given = new Map<string, string[]>()
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]
    const long = token.startsWith('--')
    const eq = long ? token.indexOf('=') : -1
    const name = long ? token.slice(2, eq === -1 ? undefined : eq) : byChar.get(token)
    if (name === undefined || !Object.hasOwn(specs, name)) return undefined
    const spec = specs[name]
    const values = given.get(name) ?? []
    if (spec.type === 'boolean') {
      if (eq !== -1) return undefined
      given.set(name, values)
      continue
    }
    const value = eq === -1 ? argv[++i] : token.slice(eq + 1)
    if (value === undefined || value === '' || value.startsWith('-')) return undefined
    if (values.length > 0 && spec.multiple !== true) return undefined
    given.set(name, [...values, value])
  }
  const out: Record<string, unknown> = {}
  /** Flags given, on argv or by env (not by default): the ones exclusive flags exclude. */
  const set = new Set(given.keys())
  for (const [name, spec] of Object.entries(specs)) {
    const tokens = given.get(name)
    if (spec.type === 'boolean') {
      const value = tokens !== undefined ? true : spec.default
      if (value !== undefined) out[name] = value
      continue
    }
    const fromEnv = spec.env === undefined ? undefined : env[spec.env]
    if (tokens === undefined && fromEnv !== undefined && fromEnv !== '') {
      const value = optionValue(spec, fromEnv)
      if (value === undefined) return undefined
      out[name] = value
      set.add(name)
    } else if (tokens !== undefined) {
      const values = tokens.map(t => optionValue(spec, t))
      if (values.includes(undefined)) return undefined
      out[name] = spec.multiple === true ? values : values[0]
    } else if (spec.default !== undefined) {
      out[name] = spec.default
    } else if (spec.required === true) {
      return undefined
    }
  }
  for (const name of set) {
    if (specs[name].exclusive?.some(other => other !== name && set.has(other)) === true) return undefined
  }
  return out as FlagValues<S>
}

/** One value as oclif parses it (options first, then the integer's form and range), or undefined where oclif would refuse it. */
function optionValue (spec: OptionSpec, text: string): string | number | undefined {
  if (spec.options !== undefined && !spec.options.includes(text)) return undefined
  if (spec.type === 'string') return text
  if (!/^-?\d+$/.test(text)) return undefined
  const n = Number.parseInt(text, 10)
  return (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max) ? undefined : n
}

