import { Box, useApp, useInput, useStdout } from 'ink'
import { useEffect, useState, type ReactElement } from 'react'
import { DependencyPanel, EventLog, Footer, Header, ServiceTable } from './components.js'
import type { Snapshot, WatchController } from './controller.js'
import { rows, SORTS, type SortKey } from './model.js'

export function App (p: { readonly controller: WatchController, readonly registry: string, readonly now?: () => number }): ReactElement {
  const { exit } = useApp()
  const { stdout } = useStdout()
  const [snap, setSnap] = useState<Snapshot>(p.controller.snapshot)
  const [selected, setSelected] = useState(0)
  const [details, setDetails] = useState(false)
  const [filter, setFilter] = useState('')
  const [filtering, setFiltering] = useState(false)
  const [sort, setSort] = useState<SortKey>('name')
  useEffect(() => p.controller.subscribe(setSnap), [p.controller])

  const list = rows(snap.view, filter, sort)
  const current = list[Math.min(selected, Math.max(0, list.length - 1))]

  useInput((input, key) => {
    if (filtering) {
      if (key.return || key.escape) setFiltering(false)
      else if (key.backspace || key.delete) setFilter(f => f.slice(0, -1))
      else if (input !== '' && !key.ctrl) setFilter(f => f + input)
      return
    }
    if (input === 'q' || (key.ctrl && input === 'c')) exit()
    else if (key.upArrow) setSelected(s => Math.max(0, s - 1))
    else if (key.downArrow) setSelected(s => Math.min(list.length - 1, s + 1))
    else if (key.return) setDetails(d => !d)
    else if (input === 'f') { setFilter(''); setFiltering(true) }
    else if (input === 's') setSort(s => SORTS[(SORTS.indexOf(s) + 1) % SORTS.length])
  })

  const height = stdout.rows ?? 24
  const wide = (stdout.columns ?? 80) >= 110
  const eventLines = Math.max(3, height - list.length - (details ? 14 : 9))
  return (
    <Box flexDirection='column'>
      <Header registry={p.registry} view={snap.view} connection={snap.connection} viewOf={snap.viewOf} lastError={snap.lastError} since={snap.since} />
      <ServiceTable rows={list} selected={selected} now={(p.now ?? Date.now)()} wide={wide} />
      {details ? <DependencyPanel view={snap.view} name={current?.record.name} /> : null}
      <EventLog events={snap.view.events} max={eventLines} />
      <Footer filter={filter} filtering={filtering} sort={sort} />
    </Box>
  )
}
