import { join } from 'node:path'
import { gradingService } from '../../src/services/grading/index.js'
import { logService } from '../../src/services/log/index.js'
import { webuiService, type WebuiOptions } from '../../src/services/webui/index.js'
import { pickAddr } from '../../src/cli/format.js'
import { TestCluster, eventually } from './nodes.js'

/** registry + log + two grading instances (one database) + webui on a random HTTP port (on 127.0.0.1 unless `web` says otherwise). */
export async function webuiCluster (cluster: TestCluster, web0: Partial<WebuiOptions> = {}) {
  const registry = await cluster.registry()
  await cluster.service(registry, 'log', [], {}, [logService({ dir: join(await cluster.tempDir(), 'log') })])
  const dbPath = join(await cluster.tempDir(), 'grading.db')
  const graders = [
    await cluster.service(registry, 'grading', ['log'], {}, [gradingService({ dbPath })]),
    await cluster.service(registry, 'grading', ['log'], {}, [gradingService({ dbPath })])
  ]
  const web = webuiService({ httpPort: 0, host: '127.0.0.1', registry: pickAddr(registry.addrs), ...web0 })
  const webNode = await cluster.service(registry, 'webui', ['grading', 'log'], {}, [web])
  await eventually(() => { if (webNode.catalog.providersOf('grading').filter(p => p.status === 'up').length < 2) throw new Error('grading not up yet') })
  const url = web.url!
  // The node says where the web UI is, for whoever runs it.
  const serving = cluster.events.get(webNode)?.find(e => e.event === 'serving')
  if (serving === undefined || serving.event !== 'serving' || serving.url !== url) throw new Error(`no serving event for ${url}`)
  return { registry, graders, webNode, url, dbPath, serving }
}
