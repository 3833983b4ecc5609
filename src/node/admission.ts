/**
 * Admission of inbound connections while they upgrade (pnet, noise, yamux). libp2p caps
 * pending upgrades in total (256 here): one host holding them all with idle sockets, re-opened
 * as they time out, locked every other host out. This caps what one host may hold, so the rest
 * always have room. Pure: the caller says when a connection arrives and when it is done.
 */
export class Admission<C> {
  private readonly pending = new Map<C, string>()
  private readonly perHost = new Map<string, number>()

  constructor (private readonly maxPerHost: number) {}

  /** Connections of `host` now waiting for their upgrade. */
  pendingOf (host: string): number {
    return this.perHost.get(host) ?? 0
  }

  /** A new connection from `host`: true if admitted (it counts until `done`), false if refused. */
  admit (conn: C, host: string): boolean {
    if (this.pending.has(conn)) return true
    const n = this.pendingOf(host)
    if (n >= this.maxPerHost) return false
    this.pending.set(conn, host)
    this.perHost.set(host, n + 1)
    return true
  }

  /** The connection finished its upgrade, or failed, or closed; idempotent. */
  done (conn: C): void {
    const host = this.pending.get(conn)
    if (host === undefined) return
    this.pending.delete(conn)
    const n = this.pendingOf(host) - 1
    if (n <= 0) this.perHost.delete(host)
    else this.perHost.set(host, n)
  }
}

/** The host part of a TCP multiaddr (/ip4/1.2.3.4/tcp/5 → 1.2.3.4); the whole address otherwise. */
export function hostOf (addr: string): string {
  return /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)/.exec(addr)?.[1] ?? addr
}
