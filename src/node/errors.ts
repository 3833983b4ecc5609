/**
 * Every gds error is a named class with a stable `code` and a message a user can act on.
 * `name` is the discriminator (as in libp2p); `code` is what scripts see in `--json` output and
 * what travels over the wire. `retryable` tells the balancer whether another provider may help.
 */
export class GdsError extends Error {
  readonly code: string
  readonly retryable: boolean
  readonly data?: Record<string, unknown>

  constructor (message: string, code = 'GDS_ERROR', opts: { retryable?: boolean, data?: Record<string, unknown>, cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'GdsError'
    this.code = code
    this.retryable = opts.retryable ?? false
    this.data = opts.data
  }

  toWire (): WireError {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable, ...(this.data === undefined ? {} : { data: this.data }) }
  }
}

/** The registry could not be dialled or did not answer in time. CLI exit code 2. */
export class RegistryUnreachableError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'REGISTRY_UNREACHABLE', { retryable: true, ...opts })
    this.name = 'RegistryUnreachableError'
  }
}

/** A message did not match its schema, or was not JSON at all. */
export class InvalidMessageError extends GdsError {
  constructor (message: string, data?: Record<string, unknown>) {
    super(message, 'INVALID_MESSAGE', { data })
    this.name = 'InvalidMessageError'
  }
}

/** A length-prefixed frame was larger than the protocol allows. */
export class FrameTooLargeError extends GdsError {
  constructor (limit: number) {
    super(`message larger than the ${limit}-byte limit of this protocol`, 'FRAME_TOO_LARGE')
    this.name = 'FrameTooLargeError'
  }
}

/** Registration refused: bad name, too many names, stale incarnation... */
export class RegistrationRejectedError extends GdsError {
  constructor (message: string) {
    super(message, 'REGISTRATION_REJECTED')
    this.name = 'RegistrationRejectedError'
  }
}

/**
 * A service of the Go registry's HTTP API registered, but the initial patch (its current
 * providers) could not be POSTed to its ServiceUpdateURL: nothing was applied.
 */
export class PatchDeliveryError extends GdsError {
  constructor (url: string, why: string) {
    super(`cannot POST the initial patch to ServiceUpdateURL ${url} (${why}); the registration was not applied: is the service listening there?`, 'PATCH_DELIVERY_FAILED', { retryable: true, data: { url } })
    this.name = 'PatchDeliveryError'
  }
}

/** The registry's access policy (--acl) does not let this peer provide this name. Final. */
export class NotAllowedError extends GdsError {
  constructor (name: string, peerId: string) {
    super(`peer ${peerId} may not provide "${name}" (the registry's access policy does not list it)`, 'NOT_ALLOWED', { data: { name, peerId } })
    this.name = 'NotAllowedError'
  }
}

/**
 * The registry's catalogue holds its maximum number of entries (--max-entries): a new entry is
 * refused, nothing changes. Retryable: down and leaving entries are reaped and free room.
 */
export class CatalogFullError extends GdsError {
  constructor (limit: number) {
    super(`the catalogue is full (${limit} entries, the --max-entries of the registry): no new entry until some are reaped, or restart the registry with a higher --max-entries`,
      'CATALOG_FULL', { retryable: true, data: { limit } })
    this.name = 'CatalogFullError'
  }
}

/** One peer may hold at most this many names, over all its registrations; nothing changes. */
export class TooManyNamesError extends GdsError {
  constructor (peerId: string, limit: number, asked: number) {
    super(`peer ${peerId} would hold ${asked} names, more than the ${limit} one peer may register (deregister some first; names left or down free their slot when reaped)`,
      'TOO_MANY_NAMES', { data: { peerId, limit, asked } })
    this.name = 'TooManyNamesError'
  }
}

export class NotRegisteredError extends GdsError {
  constructor (name: string) {
    super(`this peer has no registration named "${name}"`, 'NOT_REGISTERED')
    this.name = 'NotRegisteredError'
  }
}

/** A configuration value breaks a rule; the message states the rule. */
export class InvalidConfigError extends GdsError {
  constructor (message: string) {
    super(message, 'INVALID_CONFIG')
    this.name = 'InvalidConfigError'
  }
}

/** A key file or data dir problem (unreadable, wrong format, exists already). */
/** A node or the web UI could not listen: the message says why in one line and what to do. */
export class ListenError extends GdsError {
  constructor (where: string, err: unknown, hint: string) {
    const text = String((err as Error)?.message ?? err)
    // libp2p's message embeds the socket error's stack; keep the cause, say it in a sentence.
    const why = /EADDRINUSE/.test(text) ? `the address is in use (another process listens there; ${hint})`
      : /EADDRNOTAVAIL/.test(text) ? `this machine has no such address (${hint})`
        : /EACCES/.test(text) ? `permission denied (ports below 1024 need privileges; ${hint})`
          : text.split('\n')[0]
    super(`cannot listen on ${where}: ${why}`, 'LISTEN_FAILED', { cause: err })
    this.name = 'ListenError'
  }
}

export class KeyFileError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'KEY_FILE', opts)
    this.name = 'KeyFileError'
  }
}

/** No provider of the service is up (or this peer does not provide it). Retryable elsewhere. */
export class ServiceNotFoundError extends GdsError {
  constructor (service: string, detail = 'no provider is up') {
    super(`service "${service}" is not available: ${detail}`, 'SERVICE_NOT_FOUND', { retryable: true })
    this.name = 'ServiceNotFoundError'
  }
}

export class MethodNotFoundError extends GdsError {
  constructor (service: string, method: string, known: string[]) {
    super(`service "${service}" has no method "${method}"${known.length > 0 ? ` (it has: ${known.join(', ')})` : ''}`, 'METHOD_NOT_FOUND')
    this.name = 'MethodNotFoundError'
  }
}

/** A call's params (or a command's arguments) broke the method's schema. Not retryable. */
export class InvalidParamsError extends GdsError {
  constructor (message: string, data?: Record<string, unknown>) {
    super(message, 'INVALID_PARAMS', { data })
    this.name = 'InvalidParamsError'
  }
}

/** The provider has too many calls in flight from this caller; another provider may help. */
export class OverloadedError extends GdsError {
  constructor (message: string) {
    super(message, 'OVERLOADED', { retryable: true })
    this.name = 'OverloadedError'
  }
}

/** A peer used up its budget (`reason`: the log service's rate or its storage share): try again after `retryAfterMs`. */
export class QuotaExceededError extends GdsError {
  constructor (message: string, data: { reason: 'rate' | 'share', retryAfterMs: number }) {
    super(message, 'QUOTA_EXCEEDED', { retryable: true, data })
    this.name = 'QuotaExceededError'
  }
}

/** A thing the caller asked about does not exist (a student, a grade). Not retryable. */
export class NotFoundError extends GdsError {
  constructor (message: string) {
    super(message, 'NOT_FOUND')
    this.name = 'NotFoundError'
  }
}

export class InvalidStrategyError extends GdsError {
  constructor (name: string, known: readonly string[]) {
    super(`unknown balancing strategy "${name}": use one of ${known.join(', ')}`, 'INVALID_STRATEGY')
    this.name = 'InvalidStrategyError'
  }
}

/** A request got no answer before its deadline. */
export class RequestTimeoutError extends GdsError {
  constructor (message: string) {
    super(message, 'REQUEST_TIMEOUT', { retryable: true })
    this.name = 'RequestTimeoutError'
  }
}

/** The remote peer does not speak the protocol, or the stream failed. */
export class PeerUnavailableError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'PEER_UNAVAILABLE', { retryable: true, ...opts })
    this.name = 'PeerUnavailableError'
  }
}

/** The sender is not allowed to send this message (e.g. a patch not from the registry). */
export class UnauthorizedError extends GdsError {
  constructor (message: string) {
    super(message, 'UNAUTHORIZED')
    this.name = 'UnauthorizedError'
  }
}

export class UnknownRoleError extends GdsError {
  constructor (role: string, known: readonly string[]) {
    super(`unknown role "${role}": use one of ${known.join(', ')}, or a path to a service module`, 'UNKNOWN_ROLE')
    this.name = 'UnknownRoleError'
  }
}

/** Something was asked of a node or service that only exists once it has started. */
export class NotStartedError extends GdsError {
  constructor (message = 'the node is not started') {
    super(message, 'NOT_STARTED')
    this.name = 'NotStartedError'
  }
}

/** A `--role ./module.js` could not be loaded, or does not export a service. */
export class ModuleLoadError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'MODULE_LOAD_FAILED', opts)
    this.name = 'ModuleLoadError'
  }
}

/** A member of `gds cluster up` did not come up; the message says which and why (data: port, pid, flag). */
export class ClusterStartError extends GdsError {
  constructor (message: string, data?: Record<string, unknown>) {
    super(message, 'CLUSTER_START_FAILED', { data })
    this.name = 'ClusterStartError'
  }
}

/** `gds cluster status|down` found no live supervisor for the data dir. */
export class ClusterNotRunningError extends GdsError {
  constructor (message: string) {
    super(message, 'CLUSTER_NOT_RUNNING')
    this.name = 'ClusterNotRunningError'
  }
}

/** A local etcd was asked for (`cluster up --registries N`, tests, benches) and there is no `etcd` on PATH. */
export class EtcdMissingError extends GdsError {
  /** `otherwise`: what the user can do instead, for the command at hand. */
  constructor (otherwise = 'or run one yourself and pass its address with --store etcd://HOST:PORT') {
    super(`etcd is not on PATH: install it (Debian/Ubuntu: sudo apt-get install etcd-server; elsewhere https://etcd.io/docs/latest/install/) ${otherwise}`, 'ETCD_MISSING')
    this.name = 'EtcdMissingError'
  }
}

/** The local etcd would not start or answer. */
export class EtcdStartError extends GdsError {
  constructor (message: string) {
    super(message, 'ETCD_START_FAILED')
    this.name = 'EtcdStartError'
  }
}

/** A command line that does not parse: an unknown flag, a missing or malformed value. Exit 1. */
export class UsageError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'USAGE', opts)
    this.name = 'UsageError'
  }
}

/** Anything that is not a gds error (a bug, a library's own error): code INTERNAL. */
export class InternalError extends GdsError {
  constructor (message: string, opts: { cause?: unknown } = {}) {
    super(message, 'INTERNAL', opts)
    this.name = 'InternalError'
  }
}

/** The error shape that travels in a response envelope. */
export interface WireError {
  name: string
  code: string
  message: string
  retryable?: boolean
  data?: Record<string, unknown>
}

/**
 * Every class a wire error may name, keyed by the name its instances carry (a shorthand key
 * is the class's source name, which a bundler keeps even where it renames the binding).
 */
const CLASSES: Record<string, new (...args: any[]) => GdsError> = {
  RegistryUnreachableError, InvalidMessageError, FrameTooLargeError, RegistrationRejectedError, NotRegisteredError, NotAllowedError, CatalogFullError, TooManyNamesError,
  InvalidConfigError, ListenError, KeyFileError, ServiceNotFoundError, MethodNotFoundError, InvalidParamsError,
  OverloadedError, QuotaExceededError, NotFoundError, InvalidStrategyError, RequestTimeoutError, PeerUnavailableError, UnauthorizedError,
  UnknownRoleError, NotStartedError, ModuleLoadError, ClusterStartError, ClusterNotRunningError, UsageError, InternalError, PatchDeliveryError,
  EtcdMissingError, EtcdStartError
}

/**
 * Rebuilds the right class from a wire error, so callers can branch on `name` (and
 * `instanceof` works). The message is already made, so no subclass constructor runs: the
 * instance is a GdsError built with the class as its prototype. An unknown name stays a
 * GdsError carrying that name.
 */
export function fromWire (w: WireError): GdsError {
  const cls = Object.hasOwn(CLASSES, w.name) ? CLASSES[w.name] : GdsError
  const err = Reflect.construct(GdsError, [w.message, w.code, { retryable: w.retryable, data: w.data }], cls) as GdsError
  err.name = w.name
  return err
}

/**
 * Whether a value is a gds error, by shape: a service module may import its own copy of gds
 * (or the bundled client is a copy), so `instanceof` alone would miss its errors.
 */
export function isGdsError (err: unknown): err is GdsError {
  return err instanceof GdsError || (err instanceof Error && typeof (err as GdsError).code === 'string' && typeof (err as GdsError).toWire === 'function')
}

/** Any thrown value as a GdsError (unknown errors keep their message, as an InternalError). */
export function toGdsError (err: unknown): GdsError {
  if (isGdsError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  return new InternalError(message, { cause: err })
}
