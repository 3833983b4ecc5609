import { ConstantBackoff, handleWhen, noop, retry } from 'cockatiel'
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type IOptions } from 'etcd3'

/** A call that takes longer counts etcd as unreachable (the registry keeps serving from memory). */
export const CALL_TIMEOUT_MS = 2_000
/** Pause between two tries of a call that met a recoverable error (the next try may pick another host). */
const RETRY_PAUSE_MS = 50

/** The registry's etcd client on `hosts` (HOST:PORT). */
export function openEtcd (hosts: readonly string[]): Etcd3 {
  return new Etcd3({
    hosts: hosts.map(h => `http://${h}`),
    dialTimeout: CALL_TIMEOUT_MS,
    faultHandling: etcdFaultHandling(hosts.length),
    // Not on streams: a deadline would end the long-lived watch.
    defaultCallOptions: ctx => ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }
  })
}

/**
 * How the client handles faults, in place of its default. That default puts a circuit breaker
 * on each host: three failed calls in a row (three slow ones, on a loaded machine or a paused
 * etcd) and the client makes no call at all to that host for 5 s, lease keepalives included,
 * so a registry could lose its 3 s lease with etcd answering again. Here every call reaches
 * etcd: no breaker (gRPC already fails fast on a host it cannot connect to, and backs off its
 * own reconnects), and a call that met a recoverable error is tried again, once per host, so a
 * dead host among several costs a retry, not the call. One that ran out of its deadline is not:
 * the deadline is its whole budget (a slow etcd is slow for the next try too).
 */
export function etcdFaultHandling (hosts: number): NonNullable<IOptions['faultHandling']> {
  return {
    host: () => noop,
    global: retry(handleWhen(err => isRecoverableError(err) && !(err instanceof GRPCDeadlineExceededError)), { maxAttempts: Math.max(1, hosts), backoff: new ConstantBackoff(RETRY_PAUSE_MS) })
  }
}
