import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err?.code === 'EPERM'
  }
}

/** The live process holding a data dir's lock (lockDataDir), if any; a dead one's lock counts as none. */
export async function lockHolder (dataDir: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(join(dataDir, 'lock'), 'utf8').catch(() => ''), 10)
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined
}
