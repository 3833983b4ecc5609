import { statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, runCli } from '../helpers/cli.js'

describe('gds node start --role webui: where it listens and who may use it (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  const webui = async (extra: string[], dataDir?: string) => {
    const p = cluster.start(['--role', 'webui', '--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0', '--data-dir', dataDir ?? await cluster.dir(), ...extra])
    return p.waitFor(e => e.event === 'serving', 'webui serving', 30_000)
  }

  it('binds loopback by default; beyond loopback it makes a token, prints a sign-in link, and requires it', async () => {
    await cluster.registry()
    const local = await webui([])
    expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(local.login).toBeUndefined()
    await expect(fetch(local.url.replace('127.0.0.1', '127.0.0.2'))).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } })

    const dir = await cluster.dir()
    const open = await webui(['--http-host', '0.0.0.0'], dir)
    expect(statSync(join(dir, 'http-token')).mode & 0o777).toBe(0o600)
    expect(open.login).toMatch(new RegExp(`^${open.url}login\\?token=[A-Za-z0-9_-]{32}$`))
    expect((await fetch(open.url.replace('127.0.0.1', '127.0.0.2'))).status).toBe(401)
    const signedIn = await fetch(open.login, { redirect: 'manual' })
    expect(signedIn.status).toBe(303)
    // Signed in, the portal itself answers: 503, as no grading runs here.
    expect((await fetch(open.url, { headers: { cookie: (signedIn.headers.get('set-cookie') ?? '').split(';')[0] } })).status).toBe(503)
  })

  it('a bad --http-host or --http-token: exit 1 and one line saying what it takes', async () => {
    for (const [flag, value, message] of [['--http-host', 'somewhere else', /--http-host must be an IP address/], ['--http-token', 'short', /--http-token must be 16 to 256 printable ASCII/]] as const) {
      const r = await runCli(['node', 'start', '--role', 'webui', '--data-dir', await cluster.dir(), flag, value])
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(message)
    }
  })
})
