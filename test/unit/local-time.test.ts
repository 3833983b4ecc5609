import { afterEach, describe, expect, it } from 'vitest'
import { localTime } from '../../src/node/local-time.js'

describe('localTime', () => {
  const zone = process.env.TZ
  afterEach(() => { process.env.TZ = zone })

  it('the local time of day, with the local date when it is not today', () => {
    process.env.TZ = 'America/New_York'
    const ts = Date.UTC(2026, 10, 22, 14, 0, 1, 234)
    expect(localTime(ts, ts + 3_600_000)).toBe('09:00:01.234')
    expect(localTime(ts, ts, { ms: false })).toBe('09:00:01')
    // 02:00 UTC on the 23rd is still the 22nd in New York: today there.
    expect(localTime(ts, Date.UTC(2026, 10, 23, 2))).toBe('09:00:01.234')
    expect(localTime(ts, Date.UTC(2026, 10, 23, 6))).toBe('2026-11-22 09:00:01.234')
    process.env.TZ = 'Asia/Tokyo'
    expect(localTime(ts, ts)).toBe('23:00:01.234')
    expect(localTime(Date.UTC(2026, 0, 5, 0, 0, 0, 7), Date.UTC(2026, 5, 1), { ms: false })).toBe('2026-01-05 09:00:00')
  })
})
