export interface GoPatch { Added: Array<{ Name: string, URL: string }>, Removed: Array<{ Name: string, URL: string }>, at: number }
export interface FakeGoService {
  readonly url: string
  readonly name: string
  readonly providers: Map<string, string[]>
  readonly patches: GoPatch[]
  /** refusePatches: answer patches 500 (refused counts them). */
  readonly state: { heartbeat: 'ok' | 'hang' | 'fail', heartbeats: number, refusePatches: boolean, refused: number }
  readonly registration: Record<string, unknown>
  register: (registryUrl?: string) => Promise<{ status: number, text: string }>
  deregister: (registryUrl?: string) => Promise<{ status: number, text: string }>
  log: (message: string) => Promise<number>
  waitForPatch: (match: (p: GoPatch) => boolean, label: string, timeoutMs?: number) => Promise<GoPatch>
  kill: () => Promise<void>
}
export function startGoService (opts: {
  name: string
  requires?: string[]
  registry?: string
  host?: string
  port?: number
  heartbeat?: 'ok' | 'hang' | 'fail'
  /** Register first and listen this many ms later, as the Go services do. */
  registerBeforeListenMs?: number
  onEvent?: (e: Record<string, unknown>) => void
}): Promise<FakeGoService>
