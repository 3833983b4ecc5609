import { execFileSync } from 'node:child_process'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessCluster, ROOT } from '../helpers/cli.js'

const hasTmux = ((): boolean => { try { execFileSync('tmux', ['-V']); return true } catch { return false } })()

describe.skipIf(!hasTmux)('gds top in a real terminal (tmux)', () => {
  const cluster = new ProcessCluster()
  const session = `gds-test-${process.pid}`
  let dir = ''
  afterEach(async () => {
    try { execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' }) } catch {}
    await cluster.stopAll()
    if (dir !== '') await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  })

  const screen = (): string => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' })
  async function until (pred: (s: string) => boolean, label: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const s = screen()
      if (pred(s)) return s
      if (Date.now() > deadline) throw new Error(`screen never showed ${label}:\n${s}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  it('shows the cluster, turns a killed node down, and quits with q (exit 0)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gds-tui-'))
    await cluster.registry()
    const log = await cluster.service('log')
    await cluster.service('demo', ['log'])
    const exitFile = join(dir, 'exit')
    const cmd = `cd ${ROOT} && NODE_ENV=production OCLIF_SKIP_NEW_VERSION_CHECK=true node bin/run.js top --registry ${cluster.registryAddr}; echo $? > ${exitFile}`
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd])
    await until(s => /demo\s+\S+\s+up/.test(s) && /log\s+\S+\s+up/.test(s), 'both services up')
    // A paste arrives as one chunk: f, then "dem" and Enter, filter and apply; the Enter is not filter text.
    execFileSync('tmux', ['send-keys', '-t', session, '-l', 'fdem\r'])
    const filtered = await until(s => /\[dem\] · s sort/.test(s), 'the pasted filter applied')
    expect(filtered).not.toMatch(/^log\s/m)
    expect(filtered).toMatch(/^demo\s/m)
    execFileSync('tmux', ['send-keys', '-t', session, '-l', 'f\r'])
    await until(s => /^log\s/m.test(s) && /f filter · s sort/.test(s), 'the filter cleared')
    log.signal('SIGKILL')
    const s = await until(s => /log\s+\S+\s+down/.test(s), 'log down')
    expect(s).toMatch(/down\s+log/)
    expect(s).toMatch(/demo.*\bno\s*$/m)
    execFileSync('tmux', ['send-keys', '-t', session, 'q'])
    const deadline = Date.now() + 10_000
    let code = ''
    while (code === '' && Date.now() < deadline) {
      code = (await readFile(exitFile, 'utf8').catch(() => '')).trim()
      if (code === '') await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(code).toBe('0')
  })

  it('with the registry killed, shows the whole cluster as a peer holds it, saying whose view and how fresh', async () => {
    await cluster.registry()
    await cluster.service('log')
    await cluster.service('demo', ['log'])
    await cluster.service('idle')
    const cmd = `cd ${ROOT} && NODE_ENV=production OCLIF_SKIP_NEW_VERSION_CHECK=true node bin/run.js top --registry ${cluster.registryAddr}`
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '30', cmd])
    const all = (s: string): boolean => ['log', 'demo', 'idle'].every(n => new RegExp(`^${n}\\s.*\\sup\\s`, 'm').test(s))
    await until(all, 'all three services up')
    cluster.procs[0].signal('SIGKILL')
    // ink wraps the header itself: read it as one line.
    const s = await until(s => /registry unreachable: showing the view of peer \S+: the whole catalogue it holds \(3 entries; registry NOT reachable from it; last heard from the registry \d/.test(s.replace(/\s+/g, ' ')) && all(s), 'the peer\'s whole view', 30_000)
    expect(s).toMatch(/3 up · 0 degraded · 0 suspect · 0 down/)
  })
})
