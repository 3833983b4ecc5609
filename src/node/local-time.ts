/**
 * A time as a person reads it in a line: the local time of day, with the local date in front
 * when it is not the day of `now`. (Under --json, times stay epoch ms.)
 */
export function localTime (ts: number, now: number, opts: { ms?: boolean } = {}): string {
  const d = new Date(ts)
  const n = new Date(now)
  const p = (v: number, w = 2): string => String(v).padStart(w, '0')
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${opts.ms === false ? '' : `.${p(d.getMilliseconds(), 3)}`}`
  const today = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate()
  return today ? time : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}`
}
