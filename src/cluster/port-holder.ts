import { readdir, readFile, readlink } from 'node:fs/promises'
import { createServer } from 'node:net'

/**
 * The inodes of the sockets listening on `port`, from the text of /proc/net/tcp or tcp6
 * (columns: sl local_address rem_address st ... inode; st 0A is LISTEN). Pure.
 */
export function listeningInodes (procNetTcp: string, port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const inodes: string[] = []
  for (const line of procNetTcp.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 10) continue
    if (cols[1].endsWith(`:${hexPort}`) && cols[3] === '0A') inodes.push(cols[9])
  }
  return inodes
}

/** Whether `host:port` can be listened on now (a probe: it closes at once). */
export async function canListen (host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const srv = createServer()
    srv.once('error', () => { resolve(false) })
    srv.listen({ host, port, exclusive: true }, () => { srv.close(() => { resolve(true) }) })
  })
}

/**
 * Which process listens on a TCP port, on Linux, when it is ours to see (/proc shows other
 * users' sockets but not their fds). Undefined when unknown: the caller still names the port.
 */
export async function portHolder (port: number): Promise<{ pid: number, command: string } | undefined> {
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(async f => readFile(f, 'utf8').catch(() => '')))
  const wanted = new Set(tables.flatMap(t => listeningInodes(t, port)).map(i => `socket:[${i}]`))
  if (wanted.size === 0) return undefined
  const pids = (await readdir('/proc').catch(() => [])).filter(d => /^\d+$/.test(d))
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
    for (const fd of fds) {
      if (wanted.has(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
        return { pid: Number(pid), command: commandText(cmdline.split('\0').filter(Boolean)) }
      }
    }
  }
  return undefined
}

/** A command line short enough for a one-line error: program name, then the first arguments. */
export function commandText (argv: string[]): string {
  const [program = '?', ...args] = argv
  const text = [program.split('/').pop(), ...args.map(a => a.includes('/') ? a.split('/').pop() : a)].join(' ')
  return text.length <= 60 ? text : `${text.slice(0, 59)}…`
}
