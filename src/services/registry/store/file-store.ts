import { join } from 'node:path'
import { z } from 'zod'
import type { Logger } from '../../../node/logger.js'
import { providerRecord, type ProviderRecord } from '../../../node/schemas.js'
import { readJsonFile, writeJsonAtomic } from '../../../node/store.js'
import type { CatalogStore, StoreState } from './index.js'

export const CATALOG_FILE = 'catalog.json'
/**
 * Coalesce catalogue writes: a burst of registrations costs one write and fsync, not one each.
 * What a crash could lose in this window comes back at once: services re-register when they
 * reconnect, and the registry probes everyone it reloads.
 */
const PERSIST_DELAY_MS = 250

const persisted = z.object({ version: z.literal(1), records: z.array(providerRecord) })

/** The default store: the whole catalogue as one JSON file in the registry's data dir. */
export class FileStore implements CatalogStore {
  readonly where: string
  private timer?: NodeJS.Timeout
  private writing: Promise<void> = Promise.resolve()
  private stopped = false

  constructor (dataDir: string, private readonly snapshot: () => ProviderRecord[], private readonly log: Logger) {
    this.where = join(dataDir, CATALOG_FILE)
  }

  async load (): Promise<ProviderRecord[] | undefined> {
    let raw: unknown
    try {
      raw = await readJsonFile(this.where)
    } catch (err: any) {
      this.log.error({ err: err?.message, path: this.where }, 'catalogue file is unreadable; starting empty')
      return undefined
    }
    if (raw === undefined) return undefined
    const parsed = persisted.safeParse(raw)
    if (!parsed.success) {
      this.log.error({ path: this.where }, 'catalogue file has an unknown shape; starting empty')
      return undefined
    }
    return parsed.data.records
  }

  save (): void {
    // After stop the final state is written once, by stop itself.
    if (this.timer !== undefined || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.writeNow()
    }, PERSIST_DELAY_MS)
  }

  /** One registry: nothing to follow, nobody to share the probing with. */
  follow (): void {}
  claim (): void {}
  release (): void {}
  serves (): boolean { return true }
  probedBy (): undefined { return undefined }
  async toProbeAtStart (peerIds: string[]): Promise<string[]> { return peerIds }

  state (): StoreState {
    return { kind: 'file', state: 'ok', pending: this.timer === undefined ? 0 : 1 }
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.writeNow()
  }

  private async writeNow (): Promise<void> {
    // Writes are chained so two never race on the temp file.
    this.writing = this.writing.then(async () => {
      try {
        await writeJsonAtomic(this.where, { version: 1, records: this.snapshot() })
      } catch (err: any) {
        this.log.error({ err: err?.message, path: this.where }, 'cannot persist the catalogue')
      }
    })
    await this.writing
  }
}
