import { SUPERVISED_ENV } from '../node/config.js'

/** Aborts at the first of these signals: how a follow ends on Ctrl-C. */
export function abortOn (signals: NodeJS.Signals[]): AbortSignal {
  const ac = new AbortController()
  for (const s of signals) process.once(s, () => { ac.abort() })
  return ac.signal
}

/**
 * Runs `stop` at the first SIGINT or SIGTERM and resolves when it is done; a second signal
 * exits at once (status 1), as a second Ctrl-C should.
 */
export async function stopOnSignal (stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  const stopped = Promise.withResolvers<void>()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(1)
    stop(signal).then(stopped.resolve, stopped.reject)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return stopped.promise
}

/**
 * A supervised member stops as on SIGTERM when its supervisor dies, however it dies (a SIGKILL
 * included): the supervisor's end of our stdin closes with it. Returns the release to call once
 * the node has stopped, so stdin no longer holds the process open.
 */
export function stopWithSupervisor (): () => void {
  if (process.env[SUPERVISED_ENV] !== '1') return () => {}
  // Not for what this process starts in turn (a module's own children).
  delete process.env[SUPERVISED_ENV]
  const onEnd = (): void => { process.kill(process.pid, 'SIGTERM') }
  process.stdin.once('end', onEnd)
  process.stdin.once('error', onEnd)
  process.stdin.resume()
  return () => {
    process.stdin.off('end', onEnd)
    process.stdin.off('error', onEnd)
    process.stdin.destroy()
  }
}
