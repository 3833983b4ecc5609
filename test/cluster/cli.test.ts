import { readdir, readFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, ROOT, runCli } from '../helpers/cli.js'

const NOBODY = '/ip4/127.0.0.1/tcp/9'
const noStack = (text: string): void => { expect(text).not.toMatch(/\n\s+at /) }

describe('the CLI contract (real processes)', () => {
  const cluster = new ProcessCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('status: unreachable registry → exit 2 and one clear line; with --json a JSON error', async () => {
    const human = await runCli(['status', '--registry', NOBODY, '--timeout', '1000'])
    expect(human.code).toBe(2)
    expect(human.stderr.trim().split('\n')).toHaveLength(1)
    expect(human.stderr).toMatch(/cannot reach the registry/)
    noStack(human.stderr)
    const json = await runCli(['status', '--json', '--registry', NOBODY, '--timeout', '1000'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'REGISTRY_UNREACHABLE' } })
  })

  it('connection errors name the cause and what to check: swarm key missing or wrong, not gds, a bad /p2p/ id', async () => {
    const dir = await cluster.dir()
    for (const k of ['k1', 'k2']) expect((await runCli(['swarm-key', 'generate', '-o', join(dir, k)])).code).toBe(0)
    const reg = cluster.start(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir(), '--swarm-key', join(dir, 'k1')])
    const addr = (await reg.waitFor(e => e.event === 'listening', 'listening')).addrs[0] as string
    const plain = addr.replace(/\/p2p\/.*$/, '')
    const none = await runCli(['status', '--registry', plain, '--timeout', '1500'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/private network \(swarm key\) and this command has none: pass --swarm-key/)
    const wrong = await runCli(['status', '--registry', plain, '--timeout', '1500', '--swarm-key', join(dir, 'k2')])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/another private network \(another swarm key: check --swarm-key\)/)
    const server = createServer(s => { s.end('hello, not gds\n') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      const notGds = await runCli(['status', '--registry', `/ip4/127.0.0.1/tcp/${port}`, '--timeout', '1500'])
      expect(notGds.code).toBe(2)
      expect(notGds.stderr).toMatch(/the port is not a gds registry/)
      expect(notGds.stderr).not.toMatch(/Missing newline|Message length/)
    } finally { server.close() }
    for (const id of ['abc', 'QmBad']) {
      const bad = await runCli(['status', '--json', '--registry', `${plain}/p2p/${id}`])
      expect(bad.code).toBe(1)
      expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/after \/p2p\/ is not a peer id/) })
    }
    for (const r of [none, wrong]) { expect(r.stderr.trim().split('\n')).toHaveLength(1); noStack(r.stderr) }
  })

  it('usage errors (bad flag value, unknown flag, missing or malformed argument) are USAGE, exit 1, and a JSON object on stdout under --json', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['grades', 'add', '1', '-t', 'T', '--type', 'quiz', '--score', '140'], /bad value for --score: the score is at most 100/],
      [['grades', 'add', '1', '-t', 'T', '--type', 'quiz', '--score', 'abc'], /bad value for --score: the score is a number/],
      [['status', '--nosuch'], /Nonexistent flag: --nosuch/],
      [['grades', 'add'], /Missing 1 required arg/],
      [['grades', 'show', 'abc'], /Expected an integer but received: abc/]
    ]
    for (const [args, message] of cases) {
      const json = await runCli([...args, '--json', '--registry', NOBODY])
      expect(json.code, args.join(' ')).toBe(1)
      expect(JSON.parse(json.stdout), args.join(' ')).toMatchObject({ error: { name: 'UsageError', code: 'USAGE', message: expect.stringMatching(message) } })
      const human = await runCli([...args, '--registry', NOBODY])
      expect(human.code).toBe(1)
      expect(human.stdout).toBe('')
      expect(human.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(human.stderr).toMatch(message)
    }
  })

  it('help: "gds help <command>" and -h show the command\'s help; an extra argument says so; node start lists every role', async () => {
    for (const args of [['help', 'status'], ['status', '-h'], ['status', '--help']]) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).toBe(0)
      expect(r.stdout, args.join(' ')).toMatch(/USAGE\s+\$ gds status/)
    }
    const nested = await runCli(['help', 'node', 'start'])
    expect(nested.code).toBe(0)
    expect(nested.stdout.replace(/\s+/g, ' ')).toMatch(/registry, service, log, grading, webui, or a path/)
    const extra = await runCli(['status', 'extra-arg'])
    expect(extra.code).toBe(1)
    expect(extra.stderr.trim()).toBe('Error: unexpected argument extra-arg (gds status takes none; see "gds status --help")')
    const json = await runCli(['status', 'extra-arg', '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'USAGE' } })
  })

  it('node start: usage mistakes exit 1 with a message that says what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['node', 'start'], /role/i],
      [['node', 'start', '--role', 'nonsense'], /unknown role "nonsense".*registry, service/],
      [['node', 'start', '--role', 'service', '--name', 'Bad Name'], /not a valid service name/],
      [['node', 'start', '--role', 'service', '--name', 'x', '--heartbeat-interval', '1000', '--heartbeat-timeout', '2000'], /timeout .* must be shorter than the heartbeat interval/],
      [['node', 'start', '--role', 'service', '--name', 'x', '--registry', 'not-a-multiaddr', '--data-dir', '/tmp/gds-cli-bad-addr'], /not a multiaddr/],
      [['node', 'start', '--role', './missing-module.js'], /cannot load service module .*there is no file/]
    ]
    for (const [args, message] of cases) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr, args.join(' ')).toMatch(message)
      noStack(r.stderr)
    }
  })

  it('node start on a port that is taken: exit 1, one line that says so and which flag to change', async () => {
    const first = cluster.start(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir()])
    const taken = (await first.waitFor(e => e.event === 'listening', 'listening')).addrs[0].replace(/\/p2p\/.*$/, '')
    const r = await runCli(['node', 'start', '--role', 'registry', '--listen', taken, '--data-dir', await cluster.dir()])
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(`Error: cannot listen on ${taken}: the address is in use (another process listens there; choose another with --listen)`)
  })

  it('key generate writes an identity once, refuses to overwrite it, and the node uses it', async () => {
    const dir = await cluster.dir()
    const first = await runCli(['key', 'generate', '--data-dir', dir, '--json'])
    expect(first.code).toBe(0)
    const { peerId } = JSON.parse(first.stdout)
    expect(peerId).toMatch(/^12D3Koo/)
    const again = await runCli(['key', 'generate', '--data-dir', dir])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/exists already/)
    const node = cluster.start(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dir])
    expect((await node.waitFor(e => e.event === 'listening', 'listening')).peerId).toBe(peerId)
  })

  it('two nodes cannot share a data dir', async () => {
    const dir = await cluster.dir()
    const first = cluster.start(['--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dir])
    await first.waitFor(e => e.event === 'listening', 'listening')
    const r = await runCli(['node', 'start', '--role', 'registry', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dir])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`in use by process ${first.pid}`))
  })

  it('status prints a table; --json follows the documented shape', async () => {
    await cluster.registry()
    await cluster.service('log')
    const human = await runCli(['status', '--registry', cluster.registryAddr])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/NAME\s+PEER\s+STATUS/)
    expect(human.stdout).toMatch(/\nlog\s+12D3KooW/)
    const json = JSON.parse((await runCli(['status', '--json', '--registry', cluster.registryAddr])).stdout)
    expect(Object.keys(json.registry).sort()).toEqual(['addrs', 'peerId'])
    expect(Object.keys(json.services[0]).sort()).toEqual(['addrs', 'health', 'incarnation', 'lastSeen', 'load', 'missing', 'name', 'peerId', 'requires', 'rttMs', 'seq', 'status'])
    expect(human.stdout).toMatch(/^log 1\/1 up$/m)
    // The filters: by name and by health word; a word that is not one is a usage error.
    const filtered = JSON.parse((await runCli(['status', '--json', '--service', 'nosuch', '--registry', cluster.registryAddr])).stdout)
    expect(filtered.services).toEqual([])
    const up = JSON.parse((await runCli(['status', '--json', '--status', 'up', '--service', 'log', '--registry', cluster.registryAddr])).stdout)
    expect(up.services.map((x: any) => x.name)).toEqual(['log'])
    const bad = await runCli(['status', '--status', 'sleepy', '--registry', cluster.registryAddr])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe('Error: --status takes up, degraded, suspect, down, leaving (got "sleepy")')
  })

  it('call SERVICE --list prints the methods and their params; --json gives the schemas; misuse is USAGE', async () => {
    await cluster.registry()
    await cluster.service('plain')
    const log = cluster.start(['--role', 'log', '--registry', cluster.registryAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', await cluster.dir()])
    await log.waitFor(e => e.event === 'registered', 'log registered')
    const plain = await runCli(['call', 'plain', '--list', '--registry', cluster.registryAddr])
    expect([plain.code, plain.stdout]).toEqual([0, 'plain 0.0.0: no methods\n'])
    const human = await runCli(['call', 'log', '--list', '--registry', cluster.registryAddr])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^log \d+\.\d+\.\d+$/m)
    expect(human.stdout).toMatch(/^ {2}query\(.*limit\?: integer.*\) {2}idempotent$/m)
    expect(human.stdout).toMatch(/^ {2}append\(entries: array\) {2}idempotent$/m)
    const json = JSON.parse((await runCli(['call', 'log', '--list', '--json', '--registry', cluster.registryAddr])).stdout)
    expect(json.service).toBe('log')
    expect(json.methods.find((m: any) => m.name === 'append').params).toMatchObject({ type: 'object', required: ['entries'] })
    const both = await runCli(['call', 'log', 'query', '--list', '--registry', cluster.registryAddr])
    expect([both.code, both.stderr.trim()]).toEqual([1, 'Error: --list takes only SERVICE: gds call SERVICE --list'])
    const none = await runCli(['call', 'log', '--registry', cluster.registryAddr])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/missing METHOD/)
    const unknown = await runCli(['call', 'nosuch', '--list', '--registry', cluster.registryAddr])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('--help lists the commands', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const topic of ['node', 'status', 'key', 'cluster', 'call']) expect(r.stdout).toContain(topic)
  })
})

describe('oclif.manifest.json', () => {
  it('lists exactly the commands under src/commands, with the flags each command declares', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    const files: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name))
        else if (e.name.endsWith('.ts')) files.push(join(dir, e.name))
      }
    }
    const commandsDir = join(ROOT, 'src', 'commands')
    await walk(commandsDir)
    const ids = files.map(f => relative(commandsDir, f).replace(/\.ts$/, '').split('/').join(':')).sort()
    expect(Object.keys(manifest.commands).sort()).toEqual(ids)
    for (const id of ids) {
      const mod = await import(join(ROOT, 'dist', 'commands', ...id.split(':')) + '.js')
      const declared = Object.keys({ ...mod.default.baseFlags, ...mod.default.flags }).sort()
      expect(Object.keys(manifest.commands[id].flags).sort(), id).toEqual(declared)
    }
  })
})
