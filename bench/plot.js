// Line charts as plain SVG text (no dependency): one small panel per cost, all against the same
// x values, laid out in a grid. Missing values (null) leave a gap in the line.

const PANEL = { w: 380, h: 250, left: 64, right: 34, top: 34, bottom: 44 }
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd']

const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const num = v => Math.abs(v) >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(Math.round(v * 10) / 10)

/** About five round steps from 0 to at least `max`. */
function ticks (max) {
  if (!(max > 0)) return [0, 1]
  const raw = max / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw)
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step)
}

/** One panel at (x0, y0): `lines` are { name, ys } over the shared `xs`. */
function panel ({ title, unit, lines }, xs, xLabel, x0, y0) {
  const { w, h, left, right, top, bottom } = PANEL
  const pw = w - left - right; const ph = h - top - bottom
  const yt = ticks(Math.max(0, ...lines.flatMap(l => l.ys.filter(v => v !== null && Number.isFinite(v)))))
  const xt = ticks(Math.max(...xs))
  const px = x => x0 + left + x / xt.at(-1) * pw
  const py = y => y0 + top + ph - y / yt.at(-1) * ph
  const out = [`<text x="${x0 + left}" y="${y0 + 20}" font-size="14" font-weight="bold">${esc(title)} (${esc(unit)})</text>`]
  for (const t of yt) {
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + pw}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`)
    out.push(`<text x="${x0 + left - 6}" y="${py(t) + 4}" font-size="11" text-anchor="end">${num(t)}</text>`)
  }
  for (const t of xt) out.push(`<text x="${px(t)}" y="${y0 + top + ph + 16}" font-size="11" text-anchor="middle">${num(t)}</text>`)
  out.push(`<text x="${x0 + left + pw / 2}" y="${y0 + h - 6}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`)
  out.push(`<rect x="${x0 + left}" y="${y0 + top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  lines.forEach((l, i) => {
    const colour = COLOURS[i % COLOURS.length]
    const pts = xs.map((x, j) => [x, l.ys[j]]).filter(([, y]) => y !== null && Number.isFinite(y))
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`)
    for (const [x, y] of pts) {
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`)
      out.push(`<text x="${px(x).toFixed(1)}" y="${(py(y) - 7).toFixed(1)}" font-size="10" text-anchor="middle" fill="${colour}">${num(y)}</text>`)
    }
    if (lines.length > 1) out.push(`<text x="${x0 + left + 8}" y="${y0 + top + 14 + i * 14}" font-size="11" fill="${colour}">${esc(l.name)}</text>`)
  })
  return out.join('\n')
}

/** The whole chart: `panels` ({ title, unit, lines }) in rows of `columns`, under `heading`. */
export function plotSvg ({ heading, xLabel, xs, panels, columns = 3 }) {
  const rows = Math.ceil(panels.length / columns)
  const width = PANEL.w * columns; const height = PANEL.h * rows + 40
  const body = panels.map((p, i) => panel(p, xs, xLabel, (i % columns) * PANEL.w, 40 + Math.floor(i / columns) * PANEL.h))
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="12" y="24" font-size="16">${esc(heading)}</text>`,
    ...body,
    '</svg>\n'
  ].join('\n')
}
