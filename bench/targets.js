// Issue 15's figures, the one place their targets live: which bench row holds each, how to read
// it, the target, and (where `vs` ran) which anchor's ratio stands beside it. A ratio is
// gds / anchor, read from the vs rows (bench/vs.js): below 1, gds is faster or smaller.
// A target is { max } or { min } in the figure's unit, or its own { text, met(value, row) }.

/** Entries the registration bands must reach. */
export const BAND_ENTRIES = 10_000
/** What every 1,000-entry band must sustain. */
export const BAND_MIN_PER_SEC = 3_000

export const FIGURES = [
  {
    figure: 'one change → 50 dependents over the hub, p99', unit: 'ms', row: 'fanout-hub', read: r => r.p99, target: { max: 20 },
    vs: [{ row: 'vs-etcd', anchor: 'etcd put → 50 watchers p99', read: r => r.watch.ratioP99 }]
  },
  {
    figure: 'one change → 50 dependents, gossip alone, p99', unit: 'ms', row: 'fanout-gossip', read: r => r.p99, target: { max: 60 },
    vs: [{ row: 'vs-serf', anchor: 'serf user event p99', read: r => r.event.ratioP99 }]
  },
  {
    figure: '1,000 services at 1 Hz: registry CPU', unit: '% of a core', row: 'heartbeat', read: r => r.cpuPct, target: { max: 10 },
    vs: [{ row: 'vs-etcd', anchor: 'etcd 1,000 keepalives CPU', read: r => r.keepalive.ratioCpu }]
  },
  { figure: '1,000 services at 1 Hz: registry RSS', unit: 'MiB', row: 'heartbeat', read: r => r.rssMiB, target: { max: 120 } },
  { figure: 'rpc, 2 providers, 32 in flight: calls/s', unit: '/s', row: 'rpc-c32', read: r => r.callsPerSec, target: { min: 30_000 } },
  { figure: 'rpc, 2 providers, 32 in flight: p99', unit: 'ms', row: 'rpc-c32', read: r => r.p99, target: { max: 4 } },
  {
    figure: 'kill -9 → each of 5 dependents, median', unit: 'ms', row: 'kill9', read: r => r.median, target: { max: 15 },
    vs: [
      { row: 'vs-serf', anchor: 'serf kill -9 median', read: r => r.kill9.ratioMedian },
      { row: 'vs-etcd', anchor: 'etcd lease holder kill -9 median', read: r => r.leaseKill.ratioMedian }
    ]
  },
  { figure: 'kill -9 → each of 5 dependents, p99', unit: 'ms', row: 'kill9', read: r => r.p99, target: { max: 40 } },
  { figure: 'SIGSTOP → dependent, median', unit: 'ms', row: 'sigstop', read: r => r.median, target: { max: 1_500 } },
  { figure: 'SIGSTOP → dependent, max', unit: 'ms', row: 'sigstop', read: r => r.max, target: { max: 1_800 } },
  { figure: 'gds status, cold, median', unit: 'ms', row: 'status-cold', read: r => r.median, target: { max: 200 } },
  { figure: 'idle RSS, registry', unit: 'MB', row: 'idle-rss', read: r => r.registry, target: { max: 55 } },
  {
    figure: 'idle RSS, service', unit: 'MB', row: 'idle-rss', read: r => r.service, target: { max: 55 },
    vs: [{ row: 'vs-serf', anchor: 'serf agent idle RSS', read: r => r.idleRss.ratioService }]
  },
  {
    figure: `registrations/s, slowest 1,000-entry band to ${BAND_ENTRIES.toLocaleString('en-US')}`,
    unit: '/s',
    row: 'register',
    read: r => Math.min(...r.bands),
    target: {
      text: `≥ ${BAND_MIN_PER_SEC.toLocaleString('en-US')} /s in every band, to ${BAND_ENTRIES.toLocaleString('en-US')} entries`,
      met: (v, r) => v >= BAND_MIN_PER_SEC && r.bands.length * 1000 >= BAND_ENTRIES
    },
    // Which bands missed, and how far the bands went when short of the whole range.
    note: r => {
      const missed = r.bands.map((perSec, i) => [i, perSec]).filter(([, perSec]) => perSec < BAND_MIN_PER_SEC)
      const parts = missed.map(([i, perSec]) => `${i}-${i + 1}k: ${perSec}/s`)
      if (r.bands.length * 1000 < BAND_ENTRIES) parts.push(`bands only to ${r.bands.length * 1000} entries`)
      return parts.length > 0 ? `missed: ${parts.join(', ')}` : ''
    }
  }
]
