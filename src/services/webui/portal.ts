import type { Student, StudentSummary } from '../grading/store.js'
import { GRADE_TYPES } from '../grading/store.js'
import { html, page } from './html.js'

const avg = (a: number | null): string => a === null ? '–' : a.toFixed(1)

export interface StudentForm { firstName?: string, lastName?: string }

export function studentsPage (students: StudentSummary[], form: StudentForm = {}, error?: string): string {
  const rows = students.map(s => html`<tr><td class="num">${s.id}</td><td><a href="/students/${s.id}">${s.firstName} ${s.lastName}</a></td>
<td class="num">${avg(s.average)}</td><td class="num">${s.gradeCount}</td></tr>`)
  return page('Students', 'grades', html`<h1>Students</h1><table><thead><tr><th>ID</th><th>Name</th><th>Average</th><th>Grades</th></tr></thead>
<tbody>${rows.length > 0 ? rows : [html`<tr><td colspan="4" class="muted">no students yet</td></tr>`]}</tbody></table>
<div class="card"><h2>Add a student</h2>${error === undefined ? '' : html`<div class="error" role="alert">${error}</div>`}
<form method="post" action="/students" class="row">
<label>First name <input name="firstName" required maxlength="64" value="${form.firstName ?? ''}"></label>
<label>Last name <input name="lastName" required maxlength="64" value="${form.lastName ?? ''}"></label>
<button class="primary" type="submit">Add student</button></form></div>`)
}

export interface GradeForm { title?: string, type?: string, score?: string }

export function studentPage (s: Student, form: GradeForm = {}, error?: string): string {
  const rows = s.grades.map(g => html`<tr><td>${g.title}</td><td>${g.type}</td><td class="num">${g.score}</td>
<td><form class="inline" method="post" action="/students/${s.id}/grades/${g.id}/delete"><button class="link" type="submit" aria-label="remove ${g.title}">remove</button></form></td></tr>`)
  const options = GRADE_TYPES.map(t => html`<option value="${t}" ${t === (form.type ?? 'quiz') ? html`selected` : ''}>${t}</option>`)
  return page(`${s.firstName} ${s.lastName}`, 'grades', html`<p><a href="/">← all students</a></p>
<h1>${s.firstName} ${s.lastName} <span class="muted">· average ${avg(s.average)}</span></h1>
<table><thead><tr><th>Title</th><th>Type</th><th>Score</th><th></th></tr></thead>
<tbody>${rows.length > 0 ? rows : [html`<tr><td colspan="4" class="muted">no grades yet</td></tr>`]}</tbody></table>
<div class="card"><h2>Add a grade</h2>${error === undefined ? '' : html`<div class="error" role="alert">${error}</div>`}
<form method="post" action="/students/${s.id}/grades" class="row">
<label>Title <input name="title" required maxlength="100" value="${form.title ?? ''}"></label>
<label>Type <select name="type">${options}</select></label>
<label>Score (0–100) <input name="score" type="number" min="0" max="100" step="any" required value="${form.score ?? ''}"></label>
<button class="primary" type="submit">Add grade</button></form></div>
<form method="post" action="/students/${s.id}/delete" onsubmit="return confirm('Remove this student and all of their grades?')">
<button class="link" type="submit">remove this student and all of their grades</button></form>`)
}

export function unavailablePage (what: string, detail: string): string {
  return page('Unavailable', 'grades', html`<h1>${what} is unavailable</h1>
<div class="error" role="alert">No ${what} service answered: ${detail}</div>
<p>The portal will work again as soon as a ${what} instance is up. The <a href="/cluster">cluster page</a> shows what is running.</p>`)
}

export function notFoundPage (message: string): string {
  return page('Not found', 'grades', html`<h1>Not found</h1><p>${message}</p><p><a href="/">← all students</a></p>`)
}

/** The 401 page: where a browser without the token lands (a script sends `Authorization: Bearer`). */
export function loginPage (error?: string): string {
  return page('Sign in', 'grades', html`<h1>Sign in</h1>${error === undefined ? '' : html`<div class="error" role="alert">${error}</div>`}
<p>This portal is reachable from other machines, so it asks for its token: the one given with <code>--http-token</code>,
or the one <code>gds node start --role webui</code> printed at start (also in <code>http-token</code> in its data dir).</p>
<form method="post" action="/login" class="row card"><label>Token <input name="token" type="password" required autocomplete="current-password"></label>
<button class="primary" type="submit">Sign in</button></form>`)
}

export function refusedPage (reason: string): string {
  return page('Refused', 'grades', html`<h1>Refused</h1><div class="error" role="alert">Refused: ${reason}.</div>
<p>Nothing was changed. Open the portal itself and use its forms.</p>`)
}
