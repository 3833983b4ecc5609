/**
 * Lines for stdout, written together once per turn of the event loop. A registry taking
 * thousands of registrations a second prints an event line for each under --json, and one
 * write per line was an eighth of its time. Order is kept; `flush` writes what is pending now
 * (at exit).
 */
export class LineBatcher {
  private pending: string[] = []
  private scheduled = false

  constructor (private readonly write: (chunk: string) => void, private readonly defer: (fn: () => void) => void = fn => { setImmediate(fn) }) {}

  push (line: string): void {
    this.pending.push(line)
    if (this.scheduled) return
    this.scheduled = true
    this.defer(() => { this.flush() })
  }

  flush (): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const chunk = this.pending.join('\n') + '\n'
    this.pending = []
    this.write(chunk)
  }
}
