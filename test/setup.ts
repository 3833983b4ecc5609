import '../src/polyfills.js'
// Human lines show local time: tests read them in one zone, whatever the machine's.
process.env.TZ = 'UTC'
