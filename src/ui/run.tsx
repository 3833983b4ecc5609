import { render } from 'ink'
import type { RegistryClientOptions } from '../node/client.js'
import { loadClient } from '../cli/client-loader.js'
import { App } from './App.js'
import { WatchController } from './controller.js'

/** The live TUI: draws until the user quits with q or Ctrl-C, then restores the terminal. */
export async function runTui (opts: RegistryClientOptions & { registry: string }): Promise<void> {
  const { RegistryClient } = await loadClient()
  const controller = new WatchController(async peer => RegistryClient.connect({ ...opts, ...(peer === undefined ? {} : { registry: peer }) }))
  controller.start()
  const app = render(<App controller={controller} registry={opts.registry} />, { exitOnCtrlC: false })
  try {
    await app.waitUntilExit()
  } finally {
    controller.stop()
  }
}
