// Preloaded (node --require) by test/cluster/lean.test.ts: says on stderr, at exit, whether this
// process loaded oclif.
process.on('exit', () => {
  const loaded = Object.keys(require('node:module')._cache).some(file => file.includes('/@oclif/core/'))
  process.stderr.write(`oclif loaded: ${loaded}\n`)
})
