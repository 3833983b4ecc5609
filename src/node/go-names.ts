import { InvalidMessageError } from './errors.js'
import { SERVICE_NAME_PATTERN } from './protocols.js'

/** Longest service name the Go services' HTTP API may use. */
export const MAX_GO_NAME = 64

/**
 * Go names → catalogue names: lowercase, every run of other characters becomes one "-", cut to
 * 63. "Log Service" → `log-service`, "Grading Service" → `grading-service`, "Portal Service" →
 * `portal-service`. They stay apart from the gds roles (`log`, `grading`, `webui`): those speak
 * rpc over libp2p, which a Go service cannot call.
 */
export function goToGdsName (goName: string): string {
  const name = goName.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '')
  if (!SERVICE_NAME_PATTERN.test(name)) throw new InvalidMessageError(`service name "${goName.slice(0, MAX_GO_NAME)}" has no letter or digit to name it by`)
  return name
}
