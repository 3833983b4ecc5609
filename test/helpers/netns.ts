import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './cli.js'

/** The compose topology in network namespaces (one host, one IP each, joined by a bridge). */
export const NETNS_SCRIPT = join(ROOT, 'scripts', 'netns-cluster.sh')

/** Why namespace tests cannot run here (printed, and the tests skipped), or undefined if they can. */
export function netnsUnavailable (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces'
  try { execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' }) } catch { return 'needs iproute2 with netns support' }
  return undefined
}
