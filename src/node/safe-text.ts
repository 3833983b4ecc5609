/**
 * Text from the network (names, titles, log messages) on its way to a terminal. A terminal acts
 * on control characters: ESC starts sequences that recolour it, move the cursor, set its title
 * or (OSC 52) write the clipboard; C1 bytes do the same on some terminals; bidi overrides make a
 * line read differently from its bytes. They are refused where text is entered (grading) and
 * shown as visible escapes wherever a person reads text (CLI, TUI, human log lines).
 */

/**
 * C0 (tab and newline included: a cell or a log line is one line), DEL, C1, the bidi
 * embeddings, overrides, isolates and marks, and the Unicode line and paragraph separators.
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u
const CONTROL_CHARS_G = new RegExp(CONTROL_CHARS.source, 'gu')

/** `\x1b` for a byte-sized code point, `\u202e` above: what a person can read and report. */
function escaped (c: string): string {
  const code = c.codePointAt(0) ?? 0
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/** The text with every control character shown as an escape: safe to print, one line. */
export function safeText (text: string): string {
  return text.replace(CONTROL_CHARS_G, escaped)
}

/** As safeText, keeping the line breaks of multi-line output (each line is neutralised). */
export function safeLines (text: string): string {
  return text.split('\n').map(safeText).join('\n')
}

/** The first control character of `text` as an escape, or undefined: for "found \x1b" messages. */
export function firstControlChar (text: string): string | undefined {
  const m = CONTROL_CHARS.exec(text)
  return m === null ? undefined : escaped(m[0])
}

/**
 * JSON text with the control characters JSON.stringify leaves raw (DEL, C1, bidi, U+2028/9)
 * as \u escapes: the same value to a parser, inert on a terminal. They can only be inside strings.
 */
export function safeJson (json: string): string {
  return json.replace(CONTROL_CHARS_G, c => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)
}
