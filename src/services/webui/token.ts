import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HTTP_TOKEN_PATTERN } from '../../node/config.js'
import { InvalidConfigError } from '../../node/errors.js'

export const TOKEN_FILE = 'http-token'

/**
 * The portal's generated token, kept in the data dir (owner-only) so a restart keeps the
 * browsers signed in: read it if it is there, else create it.
 */
export function loadOrCreateToken (dataDir: string): { token: string, file: string } {
  const file = join(dataDir, TOKEN_FILE)
  let token: string
  try {
    token = readFileSync(file, 'utf8').trim()
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
    mkdirSync(dataDir, { recursive: true })
    token = randomBytes(24).toString('base64url')
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' })
  }
  if (!HTTP_TOKEN_PATTERN.test(token)) throw new InvalidConfigError(`${file} does not hold a usable token: delete it to have a new one made, or pass --http-token`)
  return { token, file }
}
