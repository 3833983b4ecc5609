import { open, readFile, rename, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Writes JSON so that a crash leaves either the old file or the new one, never half of one:
 * write a temp file, fsync it, rename it over the target, fsync the directory.
 */
export async function writeJsonAtomic (path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(JSON.stringify(value))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } catch { /* some filesystems refuse a directory fsync */ } finally { await dir.close() }
}

/** The parsed file, or undefined when it does not exist. */
export async function readJsonFile (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
  return JSON.parse(text)
}
