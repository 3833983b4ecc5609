import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FAST, ProcessCluster, runCli } from '../helpers/cli.js'

describe('gds node start with an access policy', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('a service the policy refuses exits 1 with one line saying so', async () => {
    const dir = await cluster.dir()
    const acl = join(dir, 'acl.json')
    await writeFile(acl, JSON.stringify({ log: ['*'] }))
    await cluster.registry(undefined, 0, ['--acl', acl, ...FAST])
    const demo = cluster.start(['--role', 'service', '--name', 'demo', '--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir()])
    const exit = await Promise.race([demo.exited, new Promise<never>((_, reject) => setTimeout(() => { reject(new Error(`no exit; stderr: ${demo.stderr}`)) }, 15_000))])
    expect(exit.code, demo.stderr).toBe(1)
    expect(demo.events.some(e => e.event === 'registry-retry')).toBe(false)
    // --json: the refusal is an event, then the error is the last JSON line.
    expect(demo.events.find(e => e.event === 'registration-refused')?.error).toMatch(/may not provide "demo"/)
    expect(demo.events.at(-1)).toMatchObject({ error: { name: 'NotAllowedError', code: 'NOT_ALLOWED', data: { name: 'demo' } } })
    expect(demo.stderr).not.toMatch(/\n\s+at /)
  })

  it('a bad ACL file: the registry exits 1 with one line naming the file', async () => {
    const dir = await cluster.dir()
    const acl = join(dir, 'acl.json')
    await writeFile(acl, '{"grading": "everyone"}')
    const r = await runCli(['node', 'start', '--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dir, '--acl', acl])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`ACL file ${acl}: the value of "grading" must be a list`)
    expect(r.stderr.trim().split('\n').filter(l => /ACL file/.test(l))).toHaveLength(1)
  })
})

describe('the registry in open mode', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('warns at start when it listens beyond loopback with neither --acl nor --swarm-key', async () => {
    const wide = cluster.start(['--role', 'registry', '--listen', '/ip4/0.0.0.0/tcp/0', '--data-dir', await cluster.dir(), ...FAST])
    await wide.waitFor(e => e.event === 'ready', 'wide registry ready')
    expect(wide.stderr).toMatch(/open mode: any peer that can connect may provide any name/)
    const dir = await cluster.dir()
    const acl = join(dir, 'acl.json')
    await writeFile(acl, '{"*": ["*"]}')
    for (const args of [['--listen', '/ip4/127.0.0.1/tcp/0'], ['--listen', '/ip4/0.0.0.0/tcp/0', '--acl', acl]]) {
      const quiet = cluster.start(['--role', 'registry', '--data-dir', await cluster.dir(), ...args, ...FAST])
      await quiet.waitFor(e => e.event === 'ready', 'quiet registry ready')
      expect(quiet.stderr, args.join(' ')).not.toMatch(/open mode/)
    }
  })
})
