import type { FastifyInstance } from 'fastify'
import { parseHostPort } from '../../node/config.js'
import { goToGdsName } from '../../node/go-names.js'
import { InvalidMessageError, OverloadedError } from '../../node/errors.js'
import { listenText, textServer } from '../../node/http-text.js'
import type { Logger } from '../../node/logger.js'
import type { LogEntry } from '../../node/log-shipper.js'

/** One Go log line is short; the same cap as a shipped entry's message. */
const MAX_LINE_BYTES = 8 * 1024
const REQUEST_TIMEOUT_MS = 10_000
/** Lines being stored at once (each waits for its fsync); beyond, a sender is told to wait. */
export const MAX_LOG_IN_FLIGHT = 64

/**
 * The Go services' line, "[Grading Service] - message" (their client logger's prefix), or
 * "Grading Service: message": the service (as its catalogue name, grading-service) and the
 * message. A line with neither prefix is stored as it came, from service `http`.
 */
export function parseGoLogLine (body: string): { service: string, msg: string } {
  const line = body.replace(/\r?\n$/, '')
  const m = /^\[([^\]\n]{1,64})\] - ([\s\S]*)$/.exec(line) ?? /^([A-Za-z][A-Za-z0-9 _.-]{0,63}): ([\s\S]*)$/.exec(line)
  if (m !== null) {
    try {
      return { service: goToGdsName(m[1]), msg: m[2] }
    } catch {}
  }
  return { service: 'http', msg: line }
}

export interface HttpLogOptions {
  /** HOST:PORT (or PORT) to listen on. */
  listen: string
  append: (entries: LogEntry[]) => Promise<unknown>
  now: () => number
  log: Logger
}

/**
 * `POST /log` of the Go system's log service, on the log node (--http-compat): each body is one
 * entry, stored like a shipped one (level info), so `gds logs` shows it. Such entries have no
 * libp2p sender: their peerId is `http:<address they came from>`, and (inc, seq) are this
 * listener's start time and a counter, which keeps the store's (peerId, inc, seq) keys unique.
 */
export class HttpLog {
  private app?: FastifyInstance
  private readonly inc: number
  private seq = 0
  private inFlight = 0
  url?: string

  constructor (private readonly opts: HttpLogOptions) {
    this.inc = opts.now()
  }

  async start (): Promise<string> {
    const { host, port } = parseHostPort(this.opts.listen)
    const app = textServer({ bodyLimit: MAX_LINE_BYTES, requestTimeoutMs: REQUEST_TIMEOUT_MS, log: this.opts.log })
    app.post('/log', async (req, reply) => {
      const body = String(req.body ?? '')
      if (body.trim() === '') throw new InvalidMessageError('send the log line as the body of POST /log')
      if (this.inFlight >= MAX_LOG_IN_FLIGHT) throw new OverloadedError(`${MAX_LOG_IN_FLIGHT} log lines are being stored; send again in a moment`)
      const { service, msg } = parseGoLogLine(body)
      this.inFlight++
      try {
        await this.opts.append([{ ts: this.opts.now(), level: 'info', service, peerId: `http:${req.socket.remoteAddress ?? '?'}`.slice(0, 128), msg, inc: this.inc, seq: ++this.seq }])
      } finally {
        this.inFlight--
      }
      return reply.code(200).send()
    })
    this.app = app
    this.url = await listenText(app, host, port, 'choose another with --http-compat HOST:PORT')
    return this.url
  }

  async stop (): Promise<void> {
    await this.app?.close()
  }
}
