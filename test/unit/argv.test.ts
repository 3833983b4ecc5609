import fc from 'fast-check'
import { parse } from '@oclif/core/parser'
import { afterEach, describe, expect, it } from 'vitest'
import { readArgv, type FlagSpecs } from '../../src/cli/argv.js'
import { JSON_FLAGS } from '../../src/cli/common-flags.js'
import { NODE_START_FLAGS } from '../../src/cli/node-start.js'
import { oclifFlags } from '../../src/cli/oclif-flags.js'
import { STATUS_FLAGS } from '../../src/cli/status-command.js'

/**
 * `gds node start` and `gds status` read their argv without oclif (src/cli/lean.ts): whatever
 * they accept, oclif must read the same way from the same specs, and what they are unsure of
 * goes to oclif.
 */
const SPECS = { ...NODE_START_FLAGS, ...JSON_FLAGS }
const ENV_KEYS = ['GDS_REGISTRY', 'GDS_MAX_ENTRIES', 'GDS_LOG_LEVEL', 'GDS_DATA_DIR', 'GDS_HTTP_HOST'] as const
const saved = Object.fromEntries(ENV_KEYS.map(k => [k, process.env[k]]))

function setEnv (env: Partial<Record<typeof ENV_KEYS[number], string>>): void {
  for (const k of ENV_KEYS) {
    if (env[k] === undefined) delete process.env[k]
    else process.env[k] = env[k]
  }
}

afterEach(() => { setEnv(saved) })

/** oclif's flags for argv, or 'refused' for any error (its message is what the user then reads). */
async function oclifRead (argv: string[], specs: FlagSpecs = SPECS): Promise<Record<string, unknown> | 'refused'> {
  try {
    // oclif types its flag input by the command it is declared on: here any specs go through.
    return (await parse(argv, { flags: oclifFlags(specs) as any, strict: true })).flags
  } catch {
    return 'refused'
  }
}

describe('readArgv', () => {
  it('reads a node start as oclif does: long, = and short forms, repeats, defaults and env', async () => {
    setEnv({ GDS_REGISTRY: '/ip4/127.0.0.1/tcp/4001,/ip4/127.0.0.1/tcp/4002', GDS_MAX_ENTRIES: '500' })
    const argv = ['--role', 'service', '-n', 'demo', '--requires=log', '--requires', 'grading,webui', '-l', '/ip4/127.0.0.1/tcp/0',
      '--heartbeat-interval', '50', '--json', '--data-dir', '/tmp/x', '--log-level=info']
    const lean = readArgv(SPECS, argv, process.env)
    expect(lean).toEqual({
      role: 'service', name: 'demo', requires: ['log', 'grading,webui'], listen: ['/ip4/127.0.0.1/tcp/0'], 'heartbeat-interval': 50,
      json: true, 'data-dir': '/tmp/x', 'log-level': 'info', registry: '/ip4/127.0.0.1/tcp/4001,/ip4/127.0.0.1/tcp/4002', 'max-entries': 500
    })
    expect(lean).toEqual(await oclifRead(argv))
  })

  it('leaves to oclif what it cannot be sure of: help, mistakes, arguments, dashes', async () => {
    setEnv({})
    const unsure = [
      ['--help'], ['-h'], ['--role', 'registry', '--help'], [], ['--json'], ['--role'], ['--role', '--json'],
      ['--role', 'registry', '--bogus'], ['--role', 'a', '--role', 'b'], ['--role', 'registry', 'extra'],
      ['--role', 'registry', '--heartbeat-interval', '3'], ['--role', 'registry', '--heartbeat-interval', '1e3'],
      ['--role', 'registry', '--log-level', 'loud'], ['--role', 'registry', '--', '--json'], ['--role', 'registry', '--json=true'],
      ['--role', 'registry', '--listen', 'a', 'b'], ['--role', 'registry', '--name', '-x'], ['--role='], ['--constructor', 'x']
    ]
    for (const argv of unsure) expect(readArgv(SPECS, argv, process.env), argv.join(' ')).toBeUndefined()
    setEnv({ GDS_MAX_ENTRIES: '0' })
    expect(readArgv(SPECS, ['--role', 'registry'], process.env)).toBeUndefined()
    expect(await oclifRead(['--role', 'registry'])).toBe('refused')
  })

  it('status: exclusive flags go to oclif, which refuses them', async () => {
    setEnv({})
    const specs = { ...STATUS_FLAGS, ...JSON_FLAGS }
    expect(readArgv(specs, ['--watch', '--service', 'log'], process.env)).toBeUndefined()
    expect(await oclifRead(['--watch', '--service', 'log'], specs)).toBe('refused')
    expect(readArgv(specs, ['-w', '--json'], process.env)).toEqual({ watch: true, json: true, timeout: 3000 })
  })

  const commands: Array<[string, FlagSpecs, string[]]> = [
    ['node start', SPECS, ['--role', 'service']],
    ['status', { ...STATUS_FLAGS, ...JSON_FLAGS }, []]
  ]
  for (const [id, specs, prefix] of commands) {
    it(`${id}: whatever it accepts, oclif accepts with the same flags (random argv and env)`, async () => {
      const names = Object.keys(specs).filter(n => n !== 'role')
      const flagToken = fc.constantFrom(
        ...names.map(n => `--${n}`),
        ...Object.values(specs).flatMap(s => s.char === undefined ? [] : [`-${s.char}`]),
        '--help', '-h', '--', '--no-json', '-x', '--nope'
      )
      const value = fc.constantFrom('registry', 'log', 'warn', 'loud', '0', '10', '65', '100001', '-3', '1.5', '', 'a,b', '/ip4/127.0.0.1/tcp/0', '--json')
      // Mostly a value the flag could take (integers about its range, its options), sometimes not.
      const valueFor = (name: string): fc.Arbitrary<string> => {
        const spec = specs[name]
        if (spec.type === 'boolean') return value
        if (spec.type === 'integer') {
          const lo = spec.min ?? 0
          const hi = spec.max ?? 1_000_000
          return fc.oneof({ weight: 6, arbitrary: fc.integer({ min: lo - 1, max: Math.min(hi + 1, lo + 1000) }).map(String) }, fc.constant(String(hi + 1)), value)
        }
        const good = spec.options !== undefined ? fc.constantFrom(...spec.options) : fc.constantFrom('demo', 'a,b', '/ip4/127.0.0.1/tcp/0')
        return fc.oneof({ weight: 6, arbitrary: good }, value)
      }
      const pair = fc.constantFrom(...names).chain(n => fc.tuple(fc.constantFrom(`--${n}`, ...(specs[n].char === undefined ? [] : [`-${specs[n].char}`])), valueFor(n), fc.constant(n)))
      const tokens = fc.oneof(
        { weight: 12, arbitrary: pair.map(([f, v, n]) => specs[n].type === 'boolean' ? [f] : [f, v]) },
        { weight: 2, arbitrary: pair.map(([f, v]) => [`${f}=${v}`]) },
        { weight: 1, arbitrary: fc.tuple(flagToken, value) },
        { weight: 1, arbitrary: fc.tuple(flagToken) },
        { weight: 1, arbitrary: fc.tuple(value) }
      )
      const env = fc.record(Object.fromEntries(ENV_KEYS.map(k => [k, fc.option(value, { nil: undefined })])), { requiredKeys: [] })
      let accepted = 0
      await fc.assert(fc.asyncProperty(fc.array(tokens, { maxLength: 5 }).map(t => [...prefix, ...t.flat()]), env, async (argv, e) => {
        setEnv(e)
        const lean = readArgv(specs, argv, process.env)
        if (lean === undefined) return
        accepted++
        expect(await oclifRead(argv, specs)).toEqual(lean)
      }), { numRuns: 600 })
      // Not vacuous: a good share of the random command lines were read here, not left to oclif.
      expect(accepted).toBeGreaterThan(30)
    })
  }
})
