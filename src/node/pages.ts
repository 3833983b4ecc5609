import type { ListPage, ListResult, ProviderRecord } from './schemas.js'

/**
 * Big answers in pages. A `list` or a watch snapshot carries the whole catalogue, which at the
 * cap (5,000 entries of up to 64 KiB each) is far past any frame limit; a page holds records
 * up to PAGE_BYTES of JSON, so a frame stays under PAGE_BYTES (or one record, if bigger) plus
 * its envelope however big the table is.
 */

/** Bytes of records per page: a few hundred typical entries, or four of the biggest. */
export const PAGE_BYTES = 256 * 1024

export interface PageLimits {
  /** @default PAGE_BYTES */
  maxBytes?: number
  /** @default no limit */
  maxRecords?: number
}

/**
 * The records in order, cut into pages of at most `maxBytes` of JSON and `maxRecords` records
 * each; a record bigger than `maxBytes` is a page of its own. Always at least one page.
 */
export function * pageRecords (records: readonly ProviderRecord[], limits: PageLimits = {}): Generator<ProviderRecord[]> {
  const maxBytes = limits.maxBytes ?? PAGE_BYTES
  const maxRecords = limits.maxRecords ?? Infinity
  let page: ProviderRecord[] = []
  let bytes = 0
  for (const r of records) {
    const size = Buffer.byteLength(JSON.stringify(r)) + 1
    if (page.length > 0 && (bytes + size > maxBytes || page.length >= maxRecords)) {
      yield page
      page = []
      bytes = 0
    }
    page.push(r)
    bytes += size
  }
  yield page
}

/** A list answer as pages: the first carries the registry and the source; there is always one. */
export function * listPages (list: ListResult, maxBytes = PAGE_BYTES): Generator<ListPage> {
  let first = true
  for (const services of pageRecords(list.services, { maxBytes })) {
    yield first ? { registry: list.registry, ...(list.source === undefined ? {} : { source: list.source }), services } : { services }
    first = false
  }
}

/** Pages of a list joined back into one answer. */
export class ListAssembler {
  private registry?: ListResult['registry']
  private source?: ListResult['source']
  private readonly services: ProviderRecord[] = []

  add (page: ListPage): void {
    this.registry ??= page.registry
    this.source ??= page.source
    for (const r of page.services) this.services.push(r)
  }

  /** The whole answer; undefined if no page named the registry (a malformed stream). */
  result (): ListResult | undefined {
    if (this.registry === undefined) return undefined
    return { registry: this.registry, services: this.services, ...(this.source === undefined ? {} : { source: this.source }) }
  }
}
