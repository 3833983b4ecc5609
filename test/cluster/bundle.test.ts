import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { CLI_ENV, ROOT } from '../helpers/cli.js'

/** Runs an ES module program from the package root, where `import 'gds'` is the built package. */
async function runProgram (source: string): Promise<{ code: number | null, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, env: CLI_ENV, timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : null), stderr })
    })
  })
}

describe('the built gds package', () => {
  it('an uncaught error from it prints a short source line, real names and the message', async () => {
    // Port 1: nothing listens there, so the dial is refused at once.
    const r = await runProgram("import { connect } from 'gds'\nawait connect({ registry: '/ip4/127.0.0.1/tcp/1' })")
    expect(r.code).toBe(1)
    const lines = r.stderr.split('\n')
    // Node prints where the error was thrown (the bundle) and that line of source above the message.
    expect(lines[0]).toMatch(/\/dist\/bundle\/.+\.js:\d+$/)
    expect(lines.filter(l => l.length > 500).map(l => `${l.slice(0, 80)}... (${l.length} characters)`)).toEqual([])
    expect(r.stderr).toMatch(/^RegistryUnreachableError: cannot reach the registry at \/ip4\/127\.0\.0\.1\/tcp\/1/m)
    expect(r.stderr).toMatch(/^ {4}at (async )?RegistryClient\.\w+ \(/m)
  })
})
