// The closing table of `npm run bench`: every figure of bench/targets.js as measured in this run
// (read from the rows the benches returned), its target, met or missed, and gds/anchor ratios
// where `vs` ran. A figure whose bench did not run, or failed, is "not run": never a guess.
import { FIGURES } from './targets.js'
import { table } from './lib.js'

const show = (v, digits = 2) => Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(v)

/** A figure's target as text, and whether a value meets it. */
function target ({ target: t, unit }) {
  if (t.max !== undefined) return { text: `≤ ${show(t.max)} ${unit}`, met: v => v <= t.max }
  if (t.min !== undefined) return { text: `≥ ${show(t.min)} ${unit}`, met: v => v >= t.min }
  return t
}

/** One line per figure: { figure, measured, target, verdict, vs, note }; `verdict` is met, missed or not run. */
export function summarize (rows, figures = FIGURES) {
  const byName = new Map(rows.map(r => [r.name, r]))
  return figures.map(f => {
    const row = byName.get(f.row)
    const value = row === undefined ? undefined : f.read(row)
    const ran = typeof value === 'number' && Number.isFinite(value)
    const ratios = (f.vs ?? []).flatMap(v => {
      const r = byName.get(v.row)
      const ratio = r === undefined ? undefined : v.read(r)
      return typeof ratio === 'number' ? [`${show(ratio, 3)} × ${v.anchor}`] : []
    })
    const { text, met } = target(f)
    return {
      figure: f.figure,
      measured: ran ? `${show(value)} ${f.unit}` : 'not run',
      target: text,
      verdict: ran ? (met(value, row) ? 'met' : 'missed') : 'not run',
      vs: ratios.join('; '),
      note: ran && f.note !== undefined ? f.note(row) : ''
    }
  })
}

/** The summary as text lines: the table, then the benches that failed. */
export function summaryLines (rows, failures = []) {
  const lines = summarize(rows)
  const out = table([
    ['figure', 'measured', 'target', 'verdict', 'gds / anchor (vs)'],
    ...lines.map(l => [l.figure, l.measured, l.target, l.verdict, l.vs])
  ])
  for (const l of lines.filter(l => l.note)) out.push(`${l.figure}: ${l.note}`)
  const met = lines.filter(l => l.verdict === 'met').length
  out.push(`${met} of ${lines.length} targets met; ${lines.filter(l => l.verdict === 'missed').length} missed; ${lines.filter(l => l.verdict === 'not run').length} not run`)
  for (const f of failures) out.push(`FAILED ${f.name}: ${f.error}`)
  return out
}
