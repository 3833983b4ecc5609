import { describe, expect, it } from 'vitest'

interface Line { figure: string, measured: string, target: string, verdict: string, vs: string, note: string }
interface Summary {
  summarize: (rows: unknown[]) => Line[]
  summaryLines: (rows: unknown[], failures?: Array<{ name: string, error: string }>) => string[]
}
// bench/ is plain JavaScript (no declarations): imported by a computed path, typed here.
const SUMMARY = '../../bench/summary.js'
const { summarize, summaryLines } = await import(SUMMARY) as Summary

const byFigure = (lines: Line[], start: string): Line => {
  const l = lines.find(x => x.figure.startsWith(start))
  if (l === undefined) throw new Error(`no figure ${start}`)
  return l
}

describe('the closing summary of the benches', () => {
  it('a figure whose bench did not run is "not run", never a number', () => {
    const lines = summarize([])
    expect(lines.length).toBeGreaterThanOrEqual(14)
    for (const l of lines) expect([l.measured, l.verdict, l.vs]).toEqual(['not run', 'not run', ''])
  })

  it('reads each figure from its row and says met or missed against its target', () => {
    const lines = summarize([
      { name: 'kill9', median: 12, p99: 55 },
      { name: 'rpc-c32', callsPerSec: 31_400, p99: 3.9 },
      { name: 'fanout-hub', p99: Number.NaN }
    ])
    expect(byFigure(lines, 'kill -9 → each of 5 dependents, median')).toMatchObject({ measured: '12 ms', verdict: 'met' })
    expect(byFigure(lines, 'kill -9 → each of 5 dependents, p99')).toMatchObject({ measured: '55 ms', verdict: 'missed' })
    expect(byFigure(lines, 'rpc, 2 providers, 32 in flight: calls/s')).toMatchObject({ measured: '31,400 /s', verdict: 'met' })
    // A row without a usable number (a bench that measured nothing) is not a figure either.
    expect(byFigure(lines, 'one change → 50 dependents over the hub')).toMatchObject({ measured: 'not run', verdict: 'not run' })
  })

  it('registration bands: every band must reach the target, all the way to 10,000 entries', () => {
    const ten = [3100, 3200, 2900, 3300, 3300, 3300, 3300, 3300, 3300, 3300]
    const missed = byFigure(summarize([{ name: 'register', bands: ten }]), 'registrations/s')
    expect(missed).toMatchObject({ measured: '2,900 /s', verdict: 'missed', note: 'missed: 2-3k: 2900/s' })
    const short = byFigure(summarize([{ name: 'register', bands: [4000, 4000] }]), 'registrations/s')
    expect(short).toMatchObject({ verdict: 'missed', note: 'missed: bands only to 2000 entries' })
    const met = byFigure(summarize([{ name: 'register', bands: ten.map(() => 3500) }]), 'registrations/s')
    expect(met).toMatchObject({ verdict: 'met', note: '' })
  })

  it('puts gds/anchor ratios beside the figures when vs ran, and lists the benches that failed', () => {
    const rows = [
      { name: 'kill9', median: 10, p99: 20 },
      { name: 'vs-serf', kill9: { ratioMedian: 0.002 }, event: { ratioP99: null }, idleRss: { ratioService: 4.1 } }
    ]
    expect(byFigure(summarize(rows), 'kill -9 → each of 5 dependents, median').vs).toBe('0.002 × serf kill -9 median')
    expect(byFigure(summarize(rows), 'one change → 50 dependents, gossip alone').vs).toBe('')
    const text = summaryLines(rows, [{ name: 'fanout', error: 'provider-down at dependent 3: timed out' }])
    expect(text.at(-1)).toBe('FAILED fanout: provider-down at dependent 3: timed out')
    expect(text.some(l => l.includes('not run'))).toBe(true)
  })
})
