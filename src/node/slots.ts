/** A place in line for an in-flight slot; `ready` settles when the slot is granted. */
export interface Slot {
  readonly ready: Promise<void>
}

interface Ticket extends Slot {
  granted: boolean
  wake: () => void
}

/**
 * At most `max` holders at once, the rest waiting first come first served: a client queues its
 * requests beyond a server's in-flight limit instead of being refused.
 */
export class Slots {
  private readonly waiting: Ticket[] = []
  private active = 0

  constructor (private readonly max: number) {}

  /** A slot now, or a place in line for one. */
  acquire (): Slot {
    const ready = Promise.withResolvers<void>()
    const ticket: Ticket = { granted: false, ready: ready.promise, wake: () => { ticket.granted = true; ready.resolve() } }
    if (this.active < this.max && this.waiting.length === 0) {
      this.active++
      ticket.wake()
    } else {
      this.waiting.push(ticket)
    }
    return ticket
  }

  /** A finished holder hands its slot to the first in line; one that gave up in line leaves it. */
  release (slot: Slot): void {
    const ticket = slot as Ticket
    if (!ticket.granted) {
      this.waiting.splice(this.waiting.indexOf(ticket), 1)
      return
    }
    const next = this.waiting.shift()
    if (next !== undefined) next.wake()
    else this.active--
  }
}
