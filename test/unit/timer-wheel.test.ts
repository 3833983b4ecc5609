import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadlineBuckets, TimerWheel, type WheelSlot } from '../../src/node/timer-wheel.js'

const slot = (name: string, fired: string[]): WheelSlot => ({ fire: () => { fired.push(name) } })

describe('DeadlineBuckets (pure, time passed in)', () => {
  it('a slot is never due before its time, and is due by the end of its tick', () => {
    const b = new DeadlineBuckets(10)
    const s = slot('a', [])
    b.schedule(s, 1_003)
    expect(b.takeDue(1_003)).toEqual([])
    expect(b.takeDue(1_009)).toEqual([])
    expect(b.nextAt()).toBe(1_010)
    expect(b.takeDue(1_010)).toEqual([s])
    expect(b.size).toBe(0)
    expect(b.nextAt()).toBeUndefined()
  })

  it('returns what is due earliest tick first and keeps the rest', () => {
    const b = new DeadlineBuckets(10)
    const [x, y, z] = [slot('x', []), slot('y', []), slot('z', [])]
    b.schedule(z, 300)
    b.schedule(y, 200)
    b.schedule(x, 100)
    expect(b.takeDue(250)).toEqual([x, y])
    expect(b.size).toBe(1)
    expect(b.nextAt()).toBe(300)
  })

  it('rescheduling moves a slot, cancelling removes it (twice is harmless)', () => {
    const b = new DeadlineBuckets(10)
    const s = slot('s', [])
    b.schedule(s, 100)
    b.schedule(s, 500)
    expect(b.size).toBe(1)
    expect(b.takeDue(400)).toEqual([])
    b.cancel(s)
    b.cancel(s)
    expect(b.size).toBe(0)
    expect(b.takeDue(10_000)).toEqual([])
  })

  it('a slot put in a tick already taken lands in the next one, never lost', () => {
    const b = new DeadlineBuckets(10)
    b.takeDue(1_000)
    const s = slot('late', [])
    b.schedule(s, 950)
    expect(b.nextAt()).toBe(1_010)
    expect(b.takeDue(1_005)).toEqual([])
    expect(b.takeDue(1_010)).toEqual([s])
  })
})

describe('TimerWheel (one Node timer)', () => {
  afterEach(() => { vi.useRealTimers() })

  it('fires each slot once at its time, on one Node timer however many slots wait', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    const wheel = new TimerWheel()
    const fired: string[] = []
    const slots = Array.from({ length: 100 }, (_, i) => slot(`s${i}`, fired))
    slots.forEach((s, i) => { wheel.after(s, 1_000 + i) })
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(999)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(200)
    expect(fired).toHaveLength(100)
    expect(new Set(fired).size).toBe(100)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an earlier slot re-arms the timer; a cancelled one never fires; stop() clears it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    const wheel = new TimerWheel()
    const fired: string[] = []
    const late = slot('late', fired)
    const soon = slot('soon', fired)
    const never = slot('never', fired)
    wheel.after(late, 5_000)
    wheel.after(soon, 100)
    wheel.after(never, 200)
    wheel.cancel(never)
    vi.advanceTimersByTime(300)
    expect(fired).toEqual(['soon'])
    wheel.stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(10_000)
    expect(fired).toEqual(['soon'])
  })

  it('a slot that reschedules itself as it fires keeps beating', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    const wheel = new TimerWheel()
    let beats = 0
    const beat: WheelSlot = { fire: () => { beats++; wheel.after(beat, 1_000) } }
    wheel.after(beat, 1_000)
    vi.advanceTimersByTime(5_050)
    expect(beats).toBe(5)
    wheel.stop()
  })

  it('tells each slot how late it ran: a stalled loop shows in the lateness, an on-time one does not', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] })
    let now = 1_000
    const wheel = new TimerWheel(() => now)
    const late: number[] = []
    const onTime: WheelSlot = { fire: ms => { late.push(ms) } }
    const stalled: WheelSlot = { fire: ms => { late.push(ms) } }
    wheel.after(onTime, 100)
    now += 100
    vi.advanceTimersByTime(110)
    wheel.after(stalled, 100)
    // The loop was blocked for 900 ms before the timer could run.
    now += 1_000
    vi.advanceTimersByTime(110)
    expect(late).toEqual([0, 900])
    wheel.stop()
  })
})
