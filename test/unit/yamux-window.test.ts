import { describe, expect, it } from 'vitest'
import { YamuxStream } from '@libp2p/yamux/stream'
import { batchWindowUpdates } from '../../src/node/yamux-window.js'

/** yamux's frame types and stream states (numbers on the wire, not exported). */
const DATA = 0
const WINDOW_UPDATE = 1
const ESTABLISHED = 3
const WINDOW = 256 * 1024

interface Frame { header: { type: number, flag: number, streamID: number, length: number } }

const quiet = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false })

/** One established inbound stream, its sent frames, and a way to feed it a data frame. */
function stream () {
  batchWindowUpdates()
  const sent: Frame['header'][] = []
  const s = new YamuxStream({
    id: '1',
    streamId: 1,
    state: ESTABLISHED,
    direction: 'inbound',
    log: quiet,
    sendFrame: (f: Frame['header']) => { sent.push(f); return true },
    getRTT: () => -1
  } as any)
  const receive = (bytes: number): void => {
    (s as any).handleData({ header: { type: DATA, flag: 0, streamID: 1, length: bytes }, data: new Uint8Array(bytes) })
  }
  return { s, sent, receive, updates: () => sent.filter(f => f.type === WINDOW_UPDATE) }
}

describe('yamux window updates', () => {
  it('a small message costs no window update', () => {
    const { receive, updates } = stream()
    for (let i = 0; i < 100; i++) receive(100)
    expect(updates()).toEqual([])
  })

  it('credit goes back once half the window is used, all of what was used', () => {
    const { receive, updates } = stream()
    receive(WINDOW / 2 - 1)
    expect(updates()).toEqual([])
    receive(2)
    expect(updates().map(f => f.length)).toEqual([WINDOW / 2 + 1])
  })

  it('a sender that keeps sending never runs out of credit', () => {
    const { receive, updates } = stream()
    let credit = WINDOW
    const chunk = 16 * 1024
    for (let sentBytes = 0; sentBytes < 64 * WINDOW; sentBytes += chunk) {
      expect(credit).toBeGreaterThanOrEqual(chunk)
      const before = updates().length
      receive(chunk)
      credit -= chunk
      for (const u of updates().slice(before)) credit += u.length
    }
    expect(credit).toBeGreaterThanOrEqual(WINDOW / 2)
  })

  it('more than the window is still refused', () => {
    const { receive } = stream()
    expect(() => { receive(WINDOW + 1) }).toThrow(/window/i)
  })
})
