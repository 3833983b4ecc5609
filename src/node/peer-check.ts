import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import { PEER_VERDICTS } from './config.js'
import { NotFoundError, OverloadedError, UnauthorizedError } from './errors.js'
import type { FailureReason } from './heartbeat.js'
import type { Logger } from './logger.js'
import { MuxClient, serveMux } from './mux.js'
import { CHECK_PROTOCOL, MAX_CHECK_FRAME, MAX_INBOUND_CHECK_STREAMS } from './protocols.js'
import { checkRequest, checkResult } from './schemas.js'
import { TokenBuckets } from './token-buckets.js'

/**
 * The indirect check among members while no registry is in reach (SWIM's ping-req): "can you
 * reach it?", asked of a few members after our own direct check (peer-watch.ts) failed.
 */

export type CheckResult = { ok: true } | { ok: false, reason: FailureReason }

/**
 * Asks `helper` whether it reaches `target`: true or false as it answers, undefined when it does
 * not answer in `timeoutMs` (no evidence either way). One stream for the request and its answer.
 */
export async function askToCheck (libp2p: Pick<Libp2p, 'dialProtocol'>, helper: string, target: string, timeoutMs: number): Promise<boolean | undefined> {
  const client = new MuxClient(libp2p, CHECK_PROTOCOL, { maxBytes: MAX_CHECK_FRAME, maxInFlight: 1 })
  try {
    return (await client.request(peerIdFromString(helper), { peerId: target }, checkResult, { timeoutMs })).reachable
  } catch {
    return undefined
  } finally {
    client.close()
  }
}

export interface CheckServiceOptions {
  libp2p: Pick<Libp2p, 'handle' | 'peerId'>
  /** Only members (a live entry in our catalogue) may ask; checks of peers we hold no entry of are refused. */
  isMember: (peerId: string) => boolean
  knows: (peerId: string) => boolean
  check: (peerId: string) => Promise<CheckResult>
  now: () => number
  log: Logger
}

/**
 * Answers other members' indirect checks with a direct check of our own. Each asker has a budget
 * (PEER_VERDICTS.checkBudget): beyond it a request is refused, so no one can turn this node into
 * a pinger of the cluster.
 */
export async function serveChecks (o: CheckServiceOptions): Promise<void> {
  const budget = new TokenBuckets(PEER_VERDICTS.checkBudget)
  const self = o.libp2p.peerId.toString()
  await serveMux(o.libp2p, CHECK_PROTOCOL, async (req, connection) => {
    const asker = connection.remotePeer.toString()
    if (!o.isMember(asker)) throw new UnauthorizedError('only members of the cluster (a peer with a live entry in this node\'s catalogue) may ask it to check a peer')
    if (budget.take(asker, 1, o.now()) > 0) throw new OverloadedError(`more than ${PEER_VERDICTS.checkBudget.ratePerSec} checks a second asked by one peer; ask again later`)
    if (req.peerId === self) return { reachable: true }
    if (!o.knows(req.peerId)) throw new NotFoundError(`this node holds no entry of peer ${req.peerId}: it cannot check it`)
    return { reachable: (await o.check(req.peerId)).ok }
  }, { requestSchema: checkRequest, maxBytes: MAX_CHECK_FRAME, maxInboundStreams: MAX_INBOUND_CHECK_STREAMS, maxInFlight: 4, log: o.log })
}
