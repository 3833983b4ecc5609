import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import { dirname } from 'node:path'
import vm from 'node:vm'

/** A CommonJS file, run, and how to keep what V8 compiled of it for the next process. */
export interface CachedModule<T> {
  exports: T
  /** Whether V8 took the code cache (false: there was none, or it was for another file, node or V8). */
  cacheUsed: boolean
  /**
   * Writes the code cache when it was not used: call it once the work is done, so the cache also
   * holds the functions compiled while doing it. Never throws (a cache that cannot be written is
   * only a slower next start).
   */
  saveCache: () => void
}

/**
 * Runs a CommonJS file as node's loader would, through V8's code cache in `cacheFile`: Node 20
 * keeps no compile cache, and compiling the registry client's ~1.1 MB bundle was the largest
 * part of a cold `gds status` left. V8 checks a cache against its own version and flags and the
 * source's length only, so the file starts with a digest of the source and of node's version:
 * a cache for other code (an upgraded package, the same length) is never used.
 */
export function loadCached<T> (file: string, cacheFile: string): CachedModule<T> {
  const source = readFileSync(file)
  const key = createHash('sha256').update(source).update(`${process.version} ${process.arch}`).digest()
  const cached = readCache(cacheFile, key)
  const script = new vm.Script(Module.wrap(source.toString('utf8')), { filename: file, cachedData: cached })
  const module = { exports: {} as T }
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  const cacheUsed = cached !== undefined && !script.cachedDataRejected
  return {
    exports: module.exports,
    cacheUsed,
    saveCache: () => {
      if (cacheUsed) return
      try {
        // Whole or not at all, whoever else writes it at the same time.
        mkdirSync(dirname(cacheFile), { recursive: true })
        const tmp = `${cacheFile}.${process.pid}.tmp`
        writeFileSync(tmp, Buffer.concat([key, script.createCachedData()]))
        renameSync(tmp, cacheFile)
      } catch {}
    }
  }
}

function readCache (cacheFile: string, key: Buffer): Buffer | undefined {
  let data: Buffer
  try {
    data = readFileSync(cacheFile)
  } catch {
    return undefined
  }
  return data.subarray(0, key.length).equals(key) ? data.subarray(key.length) : undefined
}
