/**
 * What `gds node start` loads: the node and the role resolver. The build bundles this entry
 * (scripts/bundle.js) together with the public API and the registry client, so one process
 * holds one minified copy of libp2p instead of a few hundred modules: an idle node's RSS drops
 * by about a third and it starts faster.
 */
export { GdsNode } from './node/node.js'
export { resolveRole } from './services/index.js'
export { createLogger, LogTap } from './node/logger.js'
