import { Box, useApp, useInput, useStdout } from 'ink'
import { useEffect, useState, type ReactElement } from 'react'
import { DependencyPanel, EventLog, Footer, Header, ServiceTable } from './components.js'
import type { Snapshot, WatchController } from './controller.js'
import { applyPress, INITIAL_INPUT, pressesOf, type InputState } from './keys.js'
import { rows } from './model.js'

export function App (p: { readonly controller: WatchController, readonly registry: string, readonly now?: () => number }): ReactElement {
  const { exit } = useApp()
  const { stdout } = useStdout()
  const [snap, setSnap] = useState<Snapshot>(p.controller.snapshot)
  const [ui, setUi] = useState<InputState>(INITIAL_INPUT)
  useEffect(() => p.controller.subscribe(setSnap), [p.controller])
  useEffect(() => { if (ui.quit) exit() }, [ui.quit, exit])

  const { selected, details, filter, filtering, sort } = ui
  const list = rows(snap.view, filter, sort)
  const current = list[Math.min(selected, Math.max(0, list.length - 1))]

  // A chunk (a paste) is many keys, applied in order.
  useInput((input, key) => { setUi(s => pressesOf(input, key).reduce((acc, k) => applyPress(acc, k, list.length), s)) })

  const height = stdout.rows ?? 24
  const wide = (stdout.columns ?? 80) >= 110
  const eventLines = Math.max(3, height - list.length - (details ? 14 : 9))
  return (
    <Box flexDirection='column'>
      <Header registry={p.registry} view={snap.view} connection={snap.connection} viewOf={snap.viewOf} viewSource={snap.viewSource} lastError={snap.lastError} since={snap.since} />
      <ServiceTable rows={list} selected={selected} now={(p.now ?? Date.now)()} wide={wide} />
      {details ? <DependencyPanel view={snap.view} name={current?.record.name} /> : null}
      <EventLog events={snap.view.events} max={eventLines} />
      <Footer filter={filter} filtering={filtering} sort={sort} />
    </Box>
  )
}
