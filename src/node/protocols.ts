/**
 * Protocol ids, the gossip topic and the wire limits: one place, each with its reason.
 */

/**
 * service → registry: register, deregister, lookup, list, suspect, multiplexed with ids on one
 * long-lived stream per peer (2.0.0; 1.0.0 was a stream per request, unframed).
 */
export const REGISTRY_PROTOCOL = '/gds/registry/2.0.0'
/** registry → service: a long-lived stream of probes and acks (one per provider, not one per beat). */
export const HEARTBEAT_PROTOCOL = '/gds/heartbeat/1.0.0'
/**
 * The same stream, where the provider also pushes a beat every interval and the registry probes
 * only when one is late (heartbeat.ts): one frame a beat, not two. The registry asks for it
 * first; a provider that knows only 1.0.0 is probed as before.
 */
export const HEARTBEAT_PUSH_PROTOCOL = '/gds/heartbeat/1.1.0'
/** registry → dependent: a long-lived stream of catalogue patches. */
export const NOTIFY_PROTOCOL = '/gds/notify/1.0.0'
/** observer → registry: a stream of catalogue events (status --watch, webui). */
export const WATCH_PROTOCOL = '/gds/watch/1.0.0'
/** any → provider: service methods. */
export const RPC_PROTOCOL = '/gds/rpc/1.0.0'
/**
 * member → member: "can you reach this peer?" (SWIM's ping-req), asked while no registry is in
 * reach, after our own check of it failed; one request and its answer.
 */
export const CHECK_PROTOCOL = '/gds/check/1.0.0'
/** gossipsub topic for signed announcements and registry patches. */
export const CATALOG_TOPIC = 'gds/catalog/1'

/**
 * Largest frame on the registry protocol. A `list` answer carries the whole catalogue:
 * 5,000 entries of about 400 bytes each fit with room to spare.
 */
export const MAX_REGISTRY_FRAME = 4 * 1024 * 1024
/** A registration request is small; anything bigger is abuse. */
export const MAX_REQUEST_FRAME = 64 * 1024
/** Probes and acks are a few dozen bytes. */
export const MAX_HEARTBEAT_FRAME = 1024
/** Pushed beats one heartbeat stream may carry in an interval: a live peer sends one. */
export const MAX_BEATS_PER_INTERVAL = 4
/** A pushing peer asks for an echo every this many beats: its sign that the registry is alive. */
export const ECHO_EVERY_BEATS = 3
/** A check request or answer is a peer id or a boolean; a refusal carries a sentence (wire errors are capped at 4 KiB). */
export const MAX_CHECK_FRAME = 8 * 1024
/** Check streams one connection may have open at once: a checker asks about a few peers at a time. */
export const MAX_INBOUND_CHECK_STREAMS = 8
/** A patch names a handful of providers; a re-sync after a reconnect can carry many. */
export const MAX_NOTIFY_FRAME = 1024 * 1024

/** How long a one-shot request may take before the caller gives up. */
export const REQUEST_TIMEOUT_MS = 5_000

/**
 * Registry streams per connection: a peer keeps one and multiplexes its requests on it; a few
 * spare for reconnects and one-shot tools sharing the connection.
 */
export const MAX_INBOUND_REGISTRY_STREAMS = 8
/**
 * Registry requests in flight on one stream. A service has a handful at most; a bench or a
 * tool registering in bulk queues beyond this on its side rather than being refused.
 */
export const MAX_REGISTRY_IN_FLIGHT = 64
/** One heartbeat and one notify stream per registry connection; a few spare for reconnects. */
export const MAX_INBOUND_SESSION_STREAMS = 4
export const MAX_OUTBOUND_SESSION_STREAMS = 4

/** Names of services: what a DNS label allows, so they are safe in logs, tables and URLs. */
/** A registry gossip batch's id (gossip-id.ts): 12 random bytes in base64url. */
export const BATCH_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/
export const SERVICE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
/** How many names one peer may register, and how many it may require. */
export const MAX_NAMES_PER_PEER = 16
export const MAX_REQUIRES = 32
/** Listen addresses kept per registration. */
export const MAX_ADDRS = 16

/** One rpc frame: params or a result. Big payloads belong in a stream of items, not one frame. */
export const MAX_RPC_FRAME = 1024 * 1024
/** Calls one caller may have in flight on one stream before it is told to back off. */
export const MAX_CALLS_PER_STREAM = 1024
/** rpc streams per connection: callers keep one and reuse it; a few spare for reconnects. */
export const MAX_INBOUND_RPC_STREAMS = 16
/** Method names: identifiers, safe in logs. */
export const METHOD_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/
/**
 * The reserved method every provider answers for each of its services (src/node/describe.ts):
 * what `gds call SERVICE --list` prints. No user method can take it (a name starts with a letter).
 */
export const DESCRIBE_METHOD = '$describe'
