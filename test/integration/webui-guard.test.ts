import { statSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { GradeStore, type StudentSummary } from '../../src/services/grading/store.js'
import { TestCluster } from '../helpers/nodes.js'
import { webuiCluster } from '../helpers/webui-cluster.js'

const form = (o: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(o).toString()
})

/** A GET with a Host header of our choosing (fetch will not send a forged Host). */
async function getWithHost (url: string, host: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the portal: who may use it', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('binds 127.0.0.1 by default: not even 127.0.0.2 on this machine reaches it', async () => {
    const { url } = await webuiCluster(cluster, { host: undefined })
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect((await fetch(url)).status).toBe(200)
    await expect(fetch(url.replace('127.0.0.1', '127.0.0.2'))).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } })
  })

  it('refuses cross-origin form posts and changes nothing; the portal\'s own posts work', async () => {
    const { url, graders } = await webuiCluster(cluster)
    const origin = url.slice(0, -1)
    const count = async (): Promise<number> => (await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).length
    const before = await count()
    const hostile: Array<Record<string, string>> = [{ origin: 'http://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { referer: 'http://127.0.0.1:1/attack.html' }]
    for (const headers of hostile) {
      const r = await fetch(`${url}students/1/delete`, form({}, headers))
      expect(r.status, JSON.stringify(headers)).toBe(403)
      expect(await r.text()).toMatch(/role="alert">Refused: a form may only be sent from the portal&#39;s own pages/)
      const added = await fetch(`${url}students`, form({ firstName: 'Mallory', lastName: 'Forged' }, headers))
      expect(added.status).toBe(403)
      const graded = await fetch(`${url}students/1/grades`, form({ title: 'Forged', type: 'quiz', score: '0' }, headers))
      expect(graded.status).toBe(403)
    }
    expect(await count()).toBe(before)
    expect((await graders[0].call<any>('grading', 'getStudent', { id: 1 })).grades.map((g: any) => g.title)).not.toContain('Forged')
    const own = await fetch(`${url}students/1/grades`, form({ title: 'Quiz 9', type: 'quiz', score: '70' }, { origin, 'sec-fetch-site': 'same-origin' }))
    expect(own.status).toBe(303)
    expect((await fetch(`${url}students/1/delete`, form({}, { referer: `${url}students/1` }))).status).toBe(303)
    expect(await count()).toBe(before - 1)
  })

  it('a flood of forged and oversized posts is refused, changes nothing, and the portal keeps answering', async () => {
    const { url, graders } = await webuiCluster(cluster)
    const before = await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})
    const forged = Array.from({ length: 200 }, async (_, i) => (await fetch(`${url}students/${1 + (i % 5)}/delete`, form({}, { origin: 'http://evil.example' }))).status)
    const huge = fetch(`${url}students`, form({ firstName: 'A'.repeat(32 * 1024), lastName: 'B' }))
    expect(new Set(await Promise.all(forged))).toEqual(new Set([403]))
    expect((await huge).status).toBe(413)
    expect(await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).toEqual(before)
    expect((await fetch(url)).status).toBe(200)
  })

  it('on loopback, a request naming another host (DNS rebinding) is refused', async () => {
    const { url } = await webuiCluster(cluster)
    const rebound = await getWithHost(url, 'evil.example:8080')
    expect(rebound.status).toBe(421)
    expect(rebound.body).toContain('answers only on this machine&#39;s loopback address')
    expect((await getWithHost(url, `localhost:${new URL(url).port}`)).status).toBe(200)
  })

  it('beyond loopback a token is required: generated, kept owner-only, printed once; bearer or cookie after sign-in', async () => {
    const dataDir = await cluster.tempDir()
    const { url, serving, graders } = await webuiCluster(cluster, { host: '0.0.0.0', dataDir })
    const file = join(dataDir, 'http-token')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const login = serving.event === 'serving' ? serving.login ?? '' : ''
    const token = new URL(login).searchParams.get('token') ?? ''
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    // Reachable beyond 127.0.0.1 (it binds every address), but not without the token.
    for (const base of [url, url.replace('127.0.0.1', '127.0.0.2')]) {
      const r = await fetch(base)
      expect(r.status).toBe(401)
      expect(await r.text()).toContain('<form method="post" action="/login"')
    }
    expect((await fetch(`${url}cluster/state`)).status).toBe(401)
    expect((await fetch(`${url}cluster/events`)).status).toBe(401)
    const before = (await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).length
    expect((await fetch(`${url}students/1/delete`, form({}))).status).toBe(401)
    expect((await fetch(`${url}students/1/delete`, form({}, { authorization: 'Bearer not-the-token-at-all' }))).status).toBe(401)
    expect((await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).length).toBe(before)

    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    const wrong = await fetch(`${url}login?token=guess-guess-guess-guess`, { redirect: 'manual' })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    // Malformed sign-ins: a repeated field, an empty one, an oversized one; none is a 500.
    expect((await fetch(`${url}login?token=${token}&token=${token}`, { redirect: 'manual' })).status).toBe(401)
    expect((await fetch(`${url}login`, form({ token: '' }))).status).toBe(401)
    expect((await fetch(`${url}login`, form({ token: 'x'.repeat(32 * 1024) }))).status).toBe(413)
    const signedIn = await fetch(login, { redirect: 'manual' })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe('/')
    const cookie = signedIn.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/^gds_token_\d+=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/)
    const jar = cookie.split(';')[0]
    expect((await fetch(url, { headers: { cookie: jar } })).status).toBe(200)
    // The sign-in form posts the token; a signed-in browser still cannot be driven by another site.
    const posted = await fetch(`${url}login`, form({ token }, { origin: url.slice(0, -1) }))
    expect(posted.status).toBe(303)
    expect((await fetch(`${url}students/1/delete`, form({}, { cookie: jar, origin: 'http://evil.example' }))).status).toBe(403)
    expect((await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).length).toBe(before)
  })

  it('a token given on loopback is required there too', async () => {
    const token = 'a-token-of-my-own-1234'
    const { url, serving } = await webuiCluster(cluster, { token })
    expect(serving.event === 'serving' && serving.login).toBe(`${url}login?token=${token}`)
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
  })
})

describe('the portal: odd requests get pages, not crashes', () => {
  const cluster = new TestCluster()
  afterEach(async () => { await cluster.stopAll() })

  it('unknown URLs get an HTML 404; ids too big for any record are 404, never 500', async () => {
    const { url } = await webuiCluster(cluster)
    const unknown = await fetch(`${url}no/such/page?x=<b>`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toMatch(/^text\/html/)
    const text = await unknown.text()
    expect(text).toContain('<h1>Not found</h1>')
    expect(text).toContain('There is no page at /no/such/page?x=%3Cb%3E.')
    for (const path of ['students/99999999999999999999', 'students/9007199254740993', 'students/1e3', 'students/0x10', 'students/-1']) {
      const r = await fetch(`${url}${path}`)
      expect(r.status, path).toBe(404)
      expect(await r.text()).toContain('<h1>Not found</h1>')
    }
    for (const path of ['students/99999999999999999999/delete', 'students/1/grades/99999999999999999999/delete', 'students/99999999999999999999/grades']) {
      expect((await fetch(`${url}${path}`, form({ title: 'x', type: 'quiz', score: '1' }))).status, path).toBe(404)
    }
  })

  it('names and titles with control characters are refused with a clear message and not stored', async () => {
    const { url, graders, dbPath } = await webuiCluster(cluster)
    const before = await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})
    const bad = await fetch(`${url}students`, form({ firstName: 'Bob\x1b]0;owned\x07', lastName: 'Evil' }))
    expect(bad.status).toBe(400)
    const badText = await bad.text()
    expect(badText).toMatch(/role="alert">A name cannot contain control characters \(found \\x1b\); use printable text\./)
    // The form comes back filled in, the offending character shown as an escape.
    expect(badText).toContain('value="Bob\\x1b]0;owned\\x07"')
    const title = await fetch(`${url}students/1/grades`, form({ title: 'Quiz\u202e1', type: 'quiz', score: '50' }))
    expect(title.status).toBe(400)
    expect(await title.text()).toMatch(/role="alert">A title cannot contain control characters \(found \\u202e\)/)
    expect(await graders[0].call<StudentSummary[]>('grading', 'listStudents', {})).toEqual(before)
    // A name stored before the rule (or by another writer of the database) is shown as escapes.
    const store = new GradeStore(dbPath)
    store.addStudent('Eve\u202elavE', 'Old')
    store.close()
    const list = await (await fetch(url)).text()
    expect(list).toContain('Eve\\u202elavE Old')
    expect(list).not.toMatch(/[\u202e\x1b]/)
  })
})
