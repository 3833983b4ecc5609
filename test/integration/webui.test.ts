import { afterEach, describe, expect, it } from 'vitest'
import { TestCluster, eventually } from '../helpers/nodes.js'
import { webuiCluster } from '../helpers/webui-cluster.js'

const form = (o: Record<string, string>): RequestInit => ({ method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() })

describe('the webui role (HTTP, no browser)', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('lists students, adds a grade with redirect-after-post, validates, and escapes data', async () => {
    const { url, graders } = await webuiCluster(cluster)
    const list = await (await fetch(url)).text()
    expect(list).toContain('Bob Squarepants')
    const ok = await fetch(`${url}students/3/grades`, form({ title: 'Quiz <b>2</b>', type: 'quiz', score: '91' }))
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe('/students/3')
    const student = await (await fetch(`${url}students/3`)).text()
    expect(student).toContain('Quiz &lt;b&gt;2&lt;/b&gt;')
    expect(student).not.toContain('<b>2</b>')
    const bad = await fetch(`${url}students/3/grades`, form({ title: 'Essay', type: 'quiz', score: '140' }))
    expect(bad.status).toBe(400)
    const badText = await bad.text()
    expect(badText).toMatch(/role="alert">[^<]*at most 100/)
    expect(badText).toContain('value="Essay"')
    const empty = await fetch(`${url}students/3/grades`, form({ title: 'x', type: 'quiz', score: '' }))
    expect(await empty.text()).toContain('Please enter a score between 0 and 100.')
    expect((await fetch(`${url}students/999`)).status).toBe(404)
    expect((await fetch(`${url}students/abc`)).status).toBe(404)
    await graders[0].call('grading', 'addStudent', { firstName: '<script>alert(1)</script>', lastName: 'Mallory' })
    const withScript = await (await fetch(url)).text()
    expect(withScript).toContain('&lt;script&gt;alert(1)&lt;/script&gt; Mallory')
    expect(withScript).not.toContain('<script>alert(1)')
  })

  it('adds a student through the form, validates the names, and removes a student with their grades', async () => {
    const { url } = await webuiCluster(cluster)
    const blank = await fetch(`${url}students`, form({ firstName: '  ', lastName: 'Lovelace' }))
    expect(blank.status).toBe(400)
    const blankText = await blank.text()
    expect(blankText).toMatch(/role="alert">A name cannot be empty/)
    expect(blankText).toContain('value="Lovelace"')
    const long = await fetch(`${url}students`, form({ firstName: 'A'.repeat(65), lastName: 'B' }))
    expect(await long.text()).toMatch(/role="alert">A name is at most 64 characters/)
    expect(await (await fetch(url)).text()).not.toContain('Lovelace')

    const added = await fetch(`${url}students`, form({ firstName: 'Ada', lastName: 'Lovelace' }))
    expect(added.status).toBe(303)
    const where = added.headers.get('location') ?? ''
    expect(where).toMatch(/^\/students\/\d+$/)
    expect(await (await fetch(`${url}${where.slice(1)}`)).text()).toContain('Ada Lovelace')
    expect(await (await fetch(`${url}${where.slice(1)}/grades`, form({ title: 'Essay', type: 'exam', score: '97' }))).status).toBe(303)

    const removed = await fetch(`${url}${where.slice(1)}/delete`, form({}))
    expect(removed.status).toBe(303)
    expect((await fetch(`${url}${where.slice(1)}`)).status).toBe(404)
    expect(await (await fetch(url)).text()).not.toContain('Lovelace')
    expect((await fetch(`${url}students/999/delete`, form({}))).status).toBe(404)
  })

  it('shows a clear 503 page, not a crash, when no grading instance is up', async () => {
    const { url, graders } = await webuiCluster(cluster)
    await Promise.all(graders.map(async g => g.stop()))
    await eventually(async () => {
      const r = await fetch(url)
      expect(r.status).toBe(503)
      expect(await r.text()).toContain('grading is unavailable')
    }, 15_000)
  })

  it('serves the live cluster state and the SSE feed', async () => {
    const { url } = await webuiCluster(cluster)
    await eventually(async () => {
      const s: any = await (await fetch(`${url}cluster/state`)).json()
      expect(s.connected).toBe(true)
      expect(s.services.map((x: any) => x.name).sort()).toEqual(['grading', 'grading', 'log', 'webui'])
    })
    const page = await (await fetch(`${url}cluster`)).text()
    expect(page).toContain('data-service="grading" data-health="up"')
    const ac = new AbortController()
    const sse = await fetch(`${url}cluster/events`, { signal: ac.signal })
    const reader = sse.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    ac.abort()
    expect(first).toMatch(/^data: \{"status"/)
  })
})
