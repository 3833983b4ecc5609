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
