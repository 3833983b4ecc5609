import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_ENV, ROOT } from '../helpers/cli.js'

/**
 * `node start` and `status` run without oclif (src/cli/lean.ts): a node would keep its runtime
 * loaded for hours, and it was a third of a cold status. Help and mistakes still go to oclif.
 */
const PROBE = ['--require', join(ROOT, 'test', 'helpers', 'oclif-probe.cjs'), join(ROOT, 'bin', 'run.js')]
const probed = (stderr: string): boolean => /oclif loaded: (true|false)/.exec(stderr)?.[1] === 'true'

function run (args: string[]): { code: number | null, stdout: string, loaded: boolean } {
  const r = spawnSync(process.execPath, [...PROBE, ...args], { cwd: ROOT, env: CLI_ENV, encoding: 'utf8', timeout: 60_000 })
  expect(r.stderr).toMatch(/oclif loaded: (true|false)/)
  return { code: r.status, stdout: r.stdout, loaded: probed(r.stderr) }
}

describe('commands run without oclif', () => {
  const dirs: string[] = []
  afterAll(async () => { await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true }))) })

  it('status, its failures included, never loads oclif; its --help and its mistakes are oclif\'s', () => {
    const down = run(['status', '--registry', '/ip4/127.0.0.1/tcp/1', '--timeout', '200', '--json'])
    expect([down.code, JSON.parse(down.stdout).error.name, down.loaded]).toEqual([2, 'RegistryUnreachableError', false])
    const help = run(['status', '--help'])
    expect([help.code, help.stdout.includes('USAGE'), help.loaded]).toEqual([0, true, true])
    const mistake = run(['status', '--timeout', '5', '--json'])
    expect([mistake.code, JSON.parse(mistake.stdout).error.code, mistake.loaded]).toEqual([1, 'USAGE', true])
  })

  it('a node runs and stops without oclif', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gds-lean-'))
    dirs.push(dataDir)
    const child = spawn(process.execPath, [...PROBE, 'node', 'start', '--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir, '--json'],
      { cwd: ROOT, env: CLI_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    const listening = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', line => { if (line.includes('"event":"listening"')) resolve() })
      void exited.then(() => { reject(new Error(`the node exited before listening: ${stderr}`)) })
    })
    await listening
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stderr).toMatch(/oclif loaded: false/)
  })
})
