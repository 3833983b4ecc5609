import { describe, expect, it } from 'vitest'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { YamuxStream } from '@libp2p/yamux/stream'
import { tuneWire } from '../../src/node/wire-tuning.js'

/** yamux's frame types and stream states (numbers on the wire, not exported). */
const DATA = 0
const WINDOW_UPDATE = 1
const ESTABLISHED = 3
const WINDOW = 256 * 1024

interface Frame { header: { type: number, flag: number, streamID: number, length: number } }

const quiet = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false })

/** One established inbound stream, its sent frames, and a way to feed it a data frame. */
function stream () {
  tuneWire()
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

/** noise's framing: a 2-byte big-endian length, then the message. */
function frame (bytes: number[]): number[] { return [bytes.length >> 8, bytes.length & 0xff, ...bytes] }
const uint16 = (d: any): number => {
  if (d.byteLength < 2) throw new RangeError('short')
  return d instanceof Uint8Array ? (d[0] << 8) + d[1] : d.getUint16(0)
}

describe('length-prefixed reads', () => {
  it('messages split and joined across reads come out whole and in order', () => {
    tuneWire()
    const d = new LengthPrefixedDecoder({ lengthDecoder: uint16, encodingLength: () => 2 })
    const wire = [...frame([1, 2, 3]), ...frame([4]), ...frame([5, 6])]
    const out: number[][] = []
    for (const cut of [[0, 1], [1, 4], [4, 4], [4, 9], [9, wire.length]]) {
      for (const m of d.decode(new Uint8Array(wire.slice(cut[0], cut[1])))) out.push([...m.subarray()])
    }
    expect(out).toEqual([[1, 2, 3], [4], [5, 6]])
  })

  it('a read that ends at a message boundary makes no new error', () => {
    tuneWire()
    const d = new LengthPrefixedDecoder({ lengthDecoder: uint16, encodingLength: () => 2 })
    const Real = globalThis.RangeError
    let made = 0
    globalThis.RangeError = new Proxy(Real, {
      apply: (t, self, args) => { made++; return Reflect.apply(t, self, args) },
      construct: (t, args) => { made++; return Reflect.construct(t, args) }
    })
    try {
      for (let i = 0; i < 50; i++) expect([...d.decode(new Uint8Array(frame([i])))]).toHaveLength(1)
    } finally {
      globalThis.RangeError = Real
    }
    expect(made).toBe(0)
  })

  it('a length beyond the limit is still refused', () => {
    tuneWire()
    const d = new LengthPrefixedDecoder({ lengthDecoder: uint16, encodingLength: () => 2, maxDataLength: 4 })
    expect(() => [...d.decode(new Uint8Array(frame([1, 2, 3, 4, 5])))]).toThrow(/length/i)
  })
})
