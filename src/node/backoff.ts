/**
 * Reconnect delay for attempt n (0-based): doubling from min to max, with "equal jitter"
 * (half fixed, half random) so a restarted registry is not hit by every node at once.
 * `random` is passed in to keep it testable.
 */
export function backoffDelay (attempt: number, minMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + (ceiling / 2) * random)
}

/** Spreads a periodic timer by ±fraction so 1,000 providers do not beat in lockstep. */
export function jitter (ms: number, fraction: number, random: number): number {
  return Math.max(1, Math.round(ms * (1 - fraction + 2 * fraction * random)))
}
