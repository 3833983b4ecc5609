import { mkdir, readFile, writeFile, open, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { KeyFileError } from './errors.js'
import { lockHolder } from './pid.js'

/** The identity file inside a node's data dir: a protobuf-encoded Ed25519 private key. */
export const KEY_FILE = 'peer.key'

/** Writes a new Ed25519 key (mode 0600); refuses to overwrite unless `force`. */
export async function generateKeyFile (path: string, opts: { force?: boolean } = {}): Promise<{ path: string, peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  try {
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: opts.force === true ? 'w' : 'wx' })
  } catch (err: any) {
    if (err?.code === 'EEXIST') throw new KeyFileError(`${path} exists already: it holds a node's identity; pass --force to replace it`, { cause: err })
    throw new KeyFileError(`cannot write ${path}: ${err?.message ?? err}`, { cause: err })
  }
  return { path, peerId: peerIdFromPrivateKey(key).toString() }
}

export async function readKeyFile (path: string): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    throw new KeyFileError(`cannot read key file ${path}: ${err?.code === 'ENOENT' ? 'no such file' : err?.message}`, { cause: err })
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new KeyFileError(`${path} is not a gds/libp2p private key (make one with "gds key generate")`, { cause: err })
  }
}

/**
 * The node's key: from GDS_PEER_KEY (base64 of a key file, for containers whose identity is
 * fixed in advance), else from its data dir, created on first start so the peer id survives
 * restarts.
 */
export async function loadOrCreateKey (dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<PrivateKey> {
  const fromEnv = env.GDS_PEER_KEY
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      return privateKeyFromProtobuf(Buffer.from(fromEnv.trim(), 'base64'))
    } catch (err) {
      throw new KeyFileError('GDS_PEER_KEY is not a base64 gds key (make one: gds key generate --out k && base64 -w0 k)', { cause: err })
    }
  }
  const path = join(dataDir, KEY_FILE)
  try {
    return await readKeyFile(path)
  } catch (err) {
    if ((err as Error)?.name !== 'KeyFileError' || ((err as Error).cause as any)?.code !== 'ENOENT') throw err
  }
  try {
    await generateKeyFile(path)
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    if ((err as Error)?.name !== 'KeyFileError' || ((err as Error).cause as any)?.code !== 'EEXIST') throw err
  }
  return readKeyFile(path)
}

/**
 * One process per data dir: two nodes on one key would share a peer id and fight over the
 * catalogue entry. The lock holds our pid; a lock left by a dead process is taken over.
 */
export async function lockDataDir (dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, 'lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600)
      await fh.writeFile(String(process.pid))
      await fh.close()
      return async () => { await unlink(path).catch(() => {}) }
    } catch (err: any) {
      if (err?.code !== 'EEXIST') throw new KeyFileError(`cannot lock data dir ${dataDir}: ${err?.message}`, { cause: err })
      const pid = await lockHolder(dataDir)
      if (pid !== undefined && pid !== process.pid) {
        throw new KeyFileError(`data dir ${dataDir} is in use by process ${pid}: give this node its own --data-dir (or --name)`)
      }
      await unlink(path).catch(() => {})
    }
  }
  throw new KeyFileError(`cannot lock data dir ${dataDir}`)
}
