import { describe, expect, it } from 'vitest'
import { MAX_STALL_RESTARTS, MIN_CONFIRM_TIMEOUT_MS, beatEveryMs, initialState, lateBeatMs, onBeat, onProbeResult, onTrigger, probeTimeout, restartsAfterStall, type HeartbeatState } from '../../src/node/heartbeat.js'

const policy = { failureThreshold: 2 }
const ok = { ok: true } as const
const miss = { ok: false, reason: 'heartbeat-timeout' } as const

describe('heartbeat state machine', () => {
  it('up → suspect on the first miss (probe again now) → down at the threshold (then slowly)', () => {
    const s0 = initialState(0)
    const d1 = onProbeResult(s0, miss, 1, policy)
    expect(d1).toMatchObject({ state: { status: 'suspect', misses: 1 }, transition: { from: 'up', to: 'suspect', reason: 'heartbeat-timeout' }, next: 'now' })
    const d2 = onProbeResult(d1.state, miss, 2, policy)
    expect(d2).toMatchObject({ state: { status: 'down', misses: 2 }, transition: { from: 'suspect', to: 'down' }, next: 'slow' })
    const d3 = onProbeResult(d2.state, miss, 3, policy)
    expect(d3.transition).toBeUndefined()
    expect(d3.next).toBe('slow')
  })

  it('threshold 1 goes straight to down', () => {
    expect(onProbeResult(initialState(0), miss, 1, { failureThreshold: 1 })).toMatchObject({ transition: { from: 'up', to: 'down' } })
  })

  it('one ack brings it back up from suspect or down; an ack when up changes nothing', () => {
    expect(onProbeResult(initialState(0), ok, 1, policy)).toEqual({ state: { status: 'up', misses: 0, lastAckAt: 1 }, next: 'interval' })
    const suspect = onProbeResult(initialState(0), miss, 1, policy).state
    expect(onProbeResult(suspect, ok, 2, policy).transition).toEqual({ from: 'suspect', to: 'up', reason: 'heartbeat-ok' })
    const down: HeartbeatState = { status: 'down', misses: 5 }
    expect(onProbeResult(down, ok, 3, policy)).toMatchObject({ state: { status: 'up', misses: 0 }, transition: { from: 'down', to: 'up' } })
  })

  it('a trigger (connection closed) asks for a probe now and names the cause of the verdict', () => {
    const t = onTrigger(initialState(0), 'connection-closed')
    expect(t.next).toBe('now')
    const refused = { ok: false, reason: 'unreachable' } as const
    const d1 = onProbeResult(t.state, refused, 1, policy)
    const d2 = onProbeResult(d1.state, refused, 2, policy)
    expect(d2.transition).toEqual({ from: 'suspect', to: 'down', reason: 'connection-closed' })
  })

  it('an ack clears the trigger, so a later timeout is reported as a timeout', () => {
    const t = onTrigger(initialState(0), 'suspect-report').state
    const healthy = onProbeResult(t, ok, 1, policy).state
    expect(healthy.trigger).toBeUndefined()
    expect(onProbeResult(healthy, miss, 2, policy).transition?.reason).toBe('heartbeat-timeout')
  })

  it('flapping: ok, miss, ok, miss, miss gives exactly these transitions', () => {
    let s = initialState(0)
    const seen: string[] = []
    for (const [i, r] of [ok, miss, ok, miss, miss].entries()) {
      const d = onProbeResult(s, r, i, policy)
      if (d.transition !== undefined) seen.push(`${d.transition.from}→${d.transition.to}`)
      s = d.state
    }
    expect(seen).toEqual(['up→suspect', 'suspect→up', 'up→suspect', 'suspect→down'])
  })

  it('a reloaded peer starts where the catalogue left it', () => {
    const s = initialState(0, 'down', policy)
    expect(s).toMatchObject({ status: 'down', misses: 2 })
    expect(onProbeResult(s, ok, 1, policy).transition).toMatchObject({ from: 'down', to: 'up' })
    expect(onTrigger(s, 'connection-closed')).toEqual({ state: s, next: 'now' })
  })
})

describe('heartbeat: a refused dial', () => {
  it('is down at once, named after the trigger that caused the probe', () => {
    const t = onTrigger(initialState(0), 'connection-closed').state
    const d = onProbeResult(t, { ok: false, reason: 'refused' }, 1, { failureThreshold: 3 })
    expect(d).toMatchObject({ state: { status: 'down' }, transition: { from: 'up', to: 'down', reason: 'connection-closed' }, next: 'slow' })
  })
  it('without a trigger is reported as refused; a timeout still needs the threshold', () => {
    expect(onProbeResult(initialState(0), { ok: false, reason: 'refused' }, 1, { failureThreshold: 3 }).transition?.reason).toBe('refused')
    expect(onProbeResult(initialState(0), { ok: false, reason: 'heartbeat-timeout' }, 1, { failureThreshold: 3 }).state.status).toBe('suspect')
  })

  it('a suspect\'s confirming probe waits half the timeout, not below the floor; up and down peers wait the whole timeout', () => {
    const suspect = onProbeResult(initialState(0), miss, 1, policy).state
    expect(probeTimeout(initialState(0), 500)).toBe(500)
    expect(probeTimeout(suspect, 500)).toBe(250)
    expect(probeTimeout(suspect, 150)).toBe(MIN_CONFIRM_TIMEOUT_MS)
    expect(probeTimeout(suspect, 60)).toBe(60)
    expect(probeTimeout({ status: 'down', misses: 2 }, 500)).toBe(500)
  })

  it('a pushed beat is an answered probe that waits for the next beat: it brings a suspect or down peer up, and changes nothing when up', () => {
    expect(onBeat(initialState(0), 5, policy)).toEqual({ state: { status: 'up', misses: 0, lastAckAt: 5 }, next: 'beat' })
    const suspect = onProbeResult(initialState(0), miss, 1, policy).state
    expect(onBeat(suspect, 6, policy)).toMatchObject({ state: { status: 'up', misses: 0 }, transition: { from: 'suspect', to: 'up', reason: 'heartbeat-ok' }, next: 'beat' })
    expect(onBeat({ status: 'down', misses: 4 }, 7, policy)).toMatchObject({ transition: { from: 'down', to: 'up' }, next: 'beat' })
  })

  it('a late beat is probed with the confirming deadline, so a hang is down sooner than on the probed path, with as much slack for a stalled provider', () => {
    expect(probeTimeout(initialState(0), 500, true)).toBe(250)
    expect(probeTimeout(initialState(0), 150, true)).toBe(MIN_CONFIRM_TIMEOUT_MS)
    expect(lateBeatMs(1000, 500)).toBe(1125)
    expect(lateBeatMs(200, 150)).toBe(250)
    expect(beatEveryMs(1000)).toBe(900)
    expect(beatEveryMs(1)).toBe(1)
    // Hung right after a beat: the beat is late, its probe fails (suspect), the confirming one
    // fails (down). The probed path: a whole interval, the probe's timeout, the confirm.
    const suspectState = onProbeResult(initialState(0), miss, 1, policy).state
    const pushed = lateBeatMs(1000, 500) + probeTimeout(initialState(0), 500, true) + probeTimeout(suspectState, 500)
    const probed = 1000 + probeTimeout(initialState(0), 500) + probeTimeout(suspectState, 500)
    expect(pushed).toBe(1625)
    expect(pushed).toBeLessThan(probed)
    // How long a live provider may stall before a false suspect: from its beat's due time to the
    // late probe's deadline, against the probed path's probe timeout.
    expect(lateBeatMs(1000, 500) - beatEveryMs(1000) + probeTimeout(initialState(0), 500, true)).toBe(475)
  })
})

describe('heartbeat: a deadline our own stall used up', () => {
  it('starts again when it ran more than half its length late, a bounded number of times', () => {
    expect(restartsAfterStall(0, 100, 0)).toBe(false)
    expect(restartsAfterStall(50, 100, 0)).toBe(false)
    expect(restartsAfterStall(51, 100, 0)).toBe(true)
    expect(restartsAfterStall(2_000, 500, MAX_STALL_RESTARTS - 1)).toBe(true)
    expect(restartsAfterStall(2_000, 500, MAX_STALL_RESTARTS)).toBe(false)
  })
})
