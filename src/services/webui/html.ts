/** HTML building with escaping by default: everything from data goes through `esc`. */
import { safeText } from '../../node/safe-text.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Markup escaped, and control characters shown as escapes (a bidi override would make a name read otherwise). */
export function esc (value: unknown): string {
  return safeText(String(value ?? '')).replace(/[&<>"']/g, c => ESCAPES[c])
}

/** Marks a string as already-safe HTML. */
export class Html {
  constructor (readonly text: string) {}
  toString (): string { return this.text }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of Html). */
export function html (strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map(x => x instanceof Html ? x.text : esc(x)).join('') : v instanceof Html ? v.text : esc(v)
    out += strings[i + 1]
  })
  return new Html(out)
}

const CSS = `
*{box-sizing:border-box} body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
header{background:#1d2433;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfd6e6;text-decoration:none} header a.on,header a:hover{color:#fff} header b{margin-right:12px}
main{max-width:1080px;margin:24px auto;padding:0 24px}
h1{font-size:22px;margin:0 0 16px} h2{font-size:17px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 2px #0001}
th,td{padding:8px 12px;text-align:left;border-bottom:1px solid #eceef4} th{background:#fafbfd;font-weight:600;font-size:13px;color:#5b6478}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
a{color:#2456d6}
form.inline{display:inline} button{font:inherit;padding:6px 12px;border-radius:6px;border:1px solid #c5cbe0;background:#fff;cursor:pointer}
button.primary{background:#2456d6;color:#fff;border-color:#2456d6} button.link{border:0;background:none;color:#b42318;padding:0}
.card{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 2px #0001;margin-top:16px}
.row{display:flex;gap:12px;flex-wrap:wrap;align-items:end} label{display:flex;flex-direction:column;font-size:13px;color:#5b6478;gap:4px}
input,select{font:inherit;padding:6px 8px;border:1px solid #c5cbe0;border-radius:6px}
.error{background:#fdecea;color:#b42318;border:1px solid #f5c2bd;padding:10px 12px;border-radius:6px;margin-bottom:12px}
.muted{color:#5b6478} .pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.up{background:#e3f6e8;color:#17693a} .suspect,.degraded{background:#fff4d6;color:#8a5a00} .down{background:#fdecea;color:#b42318} .leaving{background:#eef0f4;color:#5b6478}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px} @media(max-width:800px){.grid{grid-template-columns:1fr}}
ul.events{list-style:none;margin:0;padding:0;max-height:360px;overflow:auto} ul.events li{padding:4px 0;border-bottom:1px solid #eceef4;font-size:13px}
code{font-size:12px;color:#5b6478}
`

export function page (title: string, active: 'grades' | 'cluster', body: Html, script?: string): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · gds</title><style>${new Html(CSS)}</style></head><body>
<header><b>gds</b><a href="/" class="${active === 'grades' ? 'on' : ''}">Grades</a><a href="/cluster" class="${active === 'cluster' ? 'on' : ''}">Cluster</a></header>
<main>${body}</main>${new Html(script === undefined ? '' : `<script>${script}</script>`)}</body></html>`.text
}
