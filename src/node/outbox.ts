export interface OutboxInit<T> {
  /** Items waiting at most; one more is an overflow (the reader is not keeping up). */
  cap: number
  /**
   * One write. `take()` hands over everything queued, oldest first; call it as late as possible
   * (after opening the stream, say) so what queued meanwhile goes out in the same write.
   */
  write: (take: () => T[]) => Promise<void>
  /** The queue is full: the item was not queued, and the outbox stays open (close it, or not). */
  onOverflow: () => void
  /** A write failed and its batch is lost; the owner usually closes. */
  onError: (err: unknown) => void
}

/**
 * A bounded queue in front of one slow writer: items go out in order, through a single flush
 * loop, everything queued during a write in the next one (a burst of churn costs one write).
 */
export class Outbox<T> {
  private readonly queue: T[] = []
  private flushing = false
  private shut = false

  constructor (private readonly init: OutboxInit<T>) {}

  get closed (): boolean { return this.shut }

  push (item: T): void {
    if (this.shut) return
    if (this.queue.length >= this.init.cap) {
      this.init.onOverflow()
      return
    }
    this.queue.push(item)
    if (!this.flushing) void this.flush()
  }

  /** Drops what is queued; a write in progress finishes or fails on its own. */
  close (): void {
    this.shut = true
    this.queue.length = 0
  }

  private async flush (): Promise<void> {
    this.flushing = true
    try {
      while (this.queue.length > 0 && !this.shut) await this.init.write(() => this.queue.splice(0))
    } catch (err) {
      this.init.onError(err)
    } finally {
      this.flushing = false
    }
  }
}
