import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_ENV, ROOT } from '../helpers/cli.js'

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, env: { ...CLI_ENV, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' }, encoding: 'utf8', timeout: 240_000 })

describe('gds as an installable package', () => {
  const dirs: string[] = []
  afterAll(async () => { await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }))) })

  it('packs what runs (and no sources or tests), and the packed bin works after a clean install', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gds-pack-'))
    dirs.push(out)
    // --ignore-scripts: the suite built dist already; prepack would rebuild it under other tests.
    const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', out], ROOT))
    const files: string[] = packed.files.map((f: { path: string }) => f.path)
    for (const f of ['bin/run.js', 'dist/index.js', 'dist/index.d.ts', 'dist/bundle/cli-client.cjs', 'dist/commands/node/start.js', 'oclif.manifest.json', 'README.md', 'package.json']) {
      expect(files, f).toContain(f)
    }
    expect(files.filter(f => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/'))).toEqual([])

    const prefix = await mkdtemp(join(tmpdir(), 'gds-global-'))
    dirs.push(prefix)
    // Like `npm install -g ./gds-*.tgz` into an empty prefix. Install scripts are skipped to
    // keep this quick (SQLite's native build is not needed for these commands).
    npm(['install', '-g', '--prefix', prefix, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(out, packed.filename)], out)
    const gds = join(prefix, 'bin', 'gds')
    expect(execFileSync(gds, ['--help'], { env: CLI_ENV, encoding: 'utf8' })).toMatch(/node\s+Run a gds node/)
    const key = JSON.parse(execFileSync(gds, ['key', 'generate', '--out', join(prefix, 'k'), '--json'], { env: CLI_ENV, encoding: 'utf8' }))
    expect(key.peerId).toMatch(/^12D3KooW/)
  })
})
